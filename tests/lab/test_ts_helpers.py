"""The lab extension's pure TypeScript helpers (format.ts, magicsyntax.ts), run under node.

They are compiled to CommonJS with the extension's own TypeScript into a temp dir, then called
from a node script whose JSON output is checked here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

LABEXT = Path(__file__).resolve().parents[2] / "labextension"
TSC = LABEXT / "node_modules" / "typescript" / "bin" / "tsc"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not TSC.exists(),
    reason="needs node and labextension/node_modules (built by `pip install -e .`)",
)

SCRIPT = r"""
const f = require('./format.js');
const m = require('./magicsyntax.js');
const out = {
  uptime: [null, -1, 0, 59, 75, 3600, 4000, 90061].map(f.formatUptime),
  throughput: [null, NaN, 0, 12.345, 999.94, 1234].map(f.formatThroughput),
  percent: [null, 0, 0.4215, 1].map(f.formatPercent),
  model: ['Qwen/Qwen2.5-7B-Instruct', '/tmp/x/tiny-model/', 'plain'].map(f.shortModelName),
  status: [f.formatStatusText(0, 0), f.formatStatusText(2, 41)],
  spark: [f.sparklinePoints([], 100, 20), f.sparklinePoints([[0, 0], [1, 10], [2, 5]], 100, 20),
          f.sparklinePoints([[0, 3]], 100, 20)],
  cell: m.tokenizeMagicLine("%%sgl --max-tokens 128 --regex '[a-z ]+' -o answer"),
  line: m.tokenizeMagicLine('%sgl launch /m/tiny --engine=cpu -- --decode-log-interval 8'),
  notMagic: m.tokenizeMagicLine('%sglx launch'),
  isMagic: ['%%sgl', '  %sgl stop', '%%sglx', 'x = 1', '%%sgl -o a'].map(m.isMagicLine),
  placeholders: m.findPlaceholders('Hi {{ name }} and {{city}}, not { x } or {{'),
};
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def helpers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("ts-helpers")
    subprocess.run(
        ["node", str(TSC), "--module", "commonjs", "--target", "ES2020", "--strict",
         "--outDir", str(out), str(LABEXT / "src" / "format.ts"),
         str(LABEXT / "src" / "magicsyntax.ts")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (out / "run.js").write_text(SCRIPT)
    done = subprocess.run(
        ["node", "run.js"], cwd=out, check=True, capture_output=True, text=True, timeout=60
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def spans(tokens: list[dict[str, Any]], text: str) -> list[tuple[str, str]]:
    return [(text[t["from"] : t["to"]], t["kind"]) for t in tokens]


def test_uptime_throughput_and_percent_read_like_a_person_writes_them(
    helpers: dict[str, Any],
) -> None:
    assert helpers["uptime"] == ["–", "–", "0s", "59s", "1m 15s", "1h 00m", "1h 06m", "1d 1h"]
    assert helpers["throughput"] == [
        "– tok/s", "– tok/s", "0.0 tok/s", "12.3 tok/s", "999.9 tok/s", "1.23k tok/s",
    ]  # fmt: skip
    assert helpers["percent"] == ["–", "0%", "42%", "100%"]
    assert helpers["model"] == ["Qwen2.5-7B-Instruct", "tiny-model", "plain"]
    assert helpers["status"] == ["SGLang: none running", "SGLang: 2 running · 41.0 tok/s"]


def test_sparkline_scales_from_zero_to_the_peak(helpers: dict[str, Any]) -> None:
    empty, three, single = helpers["spark"]
    assert empty == ""
    assert three == "0.0,19.0 50.0,1.0 100.0,10.0"  # bottom, top (peak), middle
    assert single == "100.0,1.0"


def test_magic_lines_split_into_magic_subcommand_options_and_values(
    helpers: dict[str, Any],
) -> None:
    cell = "%%sgl --max-tokens 128 --regex '[a-z ]+' -o answer"
    assert spans(helpers["cell"], cell) == [
        ("%%sgl", "magic"), ("--max-tokens", "option"), ("128", "value"),
        ("--regex", "option"), ("'[a-z ]+'", "value"), ("-o", "option"), ("answer", "value"),
    ]  # fmt: skip
    line = "%sgl launch /m/tiny --engine=cpu -- --decode-log-interval 8"
    assert spans(helpers["line"], line) == [
        ("%sgl", "magic"), ("launch", "subcommand"), ("/m/tiny", "value"),
        ("--engine", "option"), ("cpu", "value"), ("--", "value"),
        ("--decode-log-interval", "option"), ("8", "value"),
    ]  # fmt: skip
    assert helpers["notMagic"] == []
    assert helpers["isMagic"] == [True, True, False, False, True]


def test_placeholders_are_double_braces_only(helpers: dict[str, Any]) -> None:
    text = "Hi {{ name }} and {{city}}, not { x } or {{"
    assert [text[p["from"] : p["to"]] for p in helpers["placeholders"]] == [
        "{{ name }}",
        "{{city}}",
    ]
