"""The tutorial notebooks execute top to bottom in a real kernel (nbclient), and their saved
outputs hold the answers and the renderings as HTML (no widget state needed).

Here they run on the tiny model (the renderings, and no server left behind); on SmolLM2, with
every answer their text relies on checked, they run once, in the Binder environment
(tests/test_binder.py uses the checks below)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _execute(
    path: Path, model: str | None = None, timeout: int = 600, kernel_name: str = "python3"
) -> Any:
    nb = nbformat.read(path, as_version=4)
    if model is not None:  # same tutorial, a faster model where the words do not matter
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.source.startswith("%sgl launch"):
                cell.source = cell.source.replace("%sgl launch", f"%sgl launch {model}", 1)
    NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, allow_errors=False).execute()
    return nb


def _cell(nb: Any, startswith: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(startswith))


def _html(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def _plain(cell: Any) -> str:
    return "".join(
        o.get("data", {}).get("text/plain", "") if "data" in o else o.get("text", "")
        for o in cell.outputs
    )


def _check_saved_renderings(nb: Any) -> None:
    launch = _cell(nb, "%sgl launch")
    assert 'class="sgl-card"' in _html(launch) and "engine: cpu" in _plain(launch)
    chat = _cell(nb, "%%sgl --max-tokens 48")
    assert 'class="sgl-card"' in _html(chat) and "tok/s" in _plain(chat)
    for startswith in (
        "%%sgl --session trip",
        "%%sgl --choices",
        "%%sgl --regex",
        "%%sgl --n 2",
        "%%sgl --logprobs",
    ):
        assert _html(_cell(nb, startswith)), startswith
    assert _html(_cell(nb, "%%sgl --n 2")).count('class="sgl-card"') == 2
    assert 'class="sgl-tok"' in _html(_cell(nb, "%%sgl --logprobs"))
    program = _html(_cell(nb, "import sglang as sgl"))
    for role in ("system", "user", "assistant"):
        assert f"sgl-role-{role}" in program
    assert 'data-var="answer_1"' in program and 'data-var="answer_2"' in program
    assert 'data-var="tool"' in _html(_cell(nb, "@sgl.function\ndef tool_use"))
    tips = _html(_cell(nb, "@sgl.function\ndef tip_suggestion"))
    assert 'class="sgl-fork"' in tips and "detailed_tip[1]" in tips and 'data-var="rating"' in tips
    assert _html(_cell(nb, "states = ")).count('class="sgl-program"') == 2
    assert 'data-var="answer_2"' in _html(_cell(nb, "import sgl_notebook"))
    stats = _cell(nb, "%sgl stats")
    assert any("image/png" in o.get("data", {}) for o in stats.outputs)
    assert "stopped: smol" in _plain(_cell(nb, "%sgl stop"))


def _engine_pids(model: str) -> set[int]:
    """CPU-engine processes serving ``model`` (other test sessions on this machine use others)."""
    pids = set()
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "sgl_notebook.engine" in cmdline and model in cmdline:
            pids.add(process.pid)
    return pids


def test_quickstart_runs_top_to_bottom_on_the_tiny_model(tiny_model_dir):
    before = _engine_pids(str(tiny_model_dir))
    nb = _execute(NOTEBOOKS / "01_quickstart.ipynb", model=str(tiny_model_dir))
    _check_saved_renderings(nb)
    assert _engine_pids(str(tiny_model_dir)) <= before  # the notebook's server is gone


def _answer(text: str, var: str) -> str:
    """The value of ``⟦var: ...⟧`` in a program's plain-text rendering."""
    return text.split(f"⟦{var}: ", 1)[1].split("⟧", 1)[0]


def check_quickstart_answers(nb: Any) -> None:
    """Every answer the quickstart's text relies on is right (SmolLM2, temperature 0): a model or
    engine change that makes one wrong fails here, before a reader sees it."""
    assert "Paris" in _plain(_cell(nb, "%%sgl --max-tokens 48"))
    assert "Tokyo" in _plain(_cell(nb, "%%sgl --max-tokens 32"))
    assert "Louvre" in _plain(_cell(nb, "%%sgl --session trip --max-tokens 40 --temperature 0 --"))
    assert "Paris" in _plain(_cell(nb, "%%sgl --session trip --max-tokens 40 --temperature 0\n"))
    city = _plain(_cell(nb, "city.json"))
    assert "'Berlin'" in city and "germany" in city.lower(), city
    assert _plain(_cell(nb, "%%sgl --choices")).splitlines()[0] == "positive"
    assert _plain(_cell(nb, "%%sgl --regex")).startswith("1789\n")
    assert "Paris" in _plain(_cell(nb, "%%sgl --logprobs"))
    first = _plain(_cell(nb, "import sglang as sgl"))
    assert "London" in _answer(first, "answer_1")
    assert any(w in _answer(first, "answer_2") for w in ("Buckingham", "Big Ben", "Tower", "Eye"))
    assert _answer(_plain(_cell(nb, "@sgl.function\ndef tool_use")), "tool") == "search engine"
    batch = _plain(_cell(nb, "states = ")).split("[system]")
    assert "Berlin" in _answer(batch[1], "answer_1") and "Berlin" in _answer(batch[1], "answer_2")
    assert "Tokyo" in _answer(batch[2], "answer_1")
    streamed = _plain(_cell(nb, "import sgl_notebook"))
    assert "Paris" in _answer(streamed, "answer_1") and "Eiffel" in _answer(streamed, "answer_2")


def _check_frontend_renderings(nb: Any) -> None:
    first = _html(_cell(nb, "import sglang as sgl"))
    for role in ("system", "user", "assistant"):
        assert f"sgl-role-{role}" in first
    assert 'data-var="answer_1"' in first and 'data-var="answer_2"' in first
    classify = _html(_cell(nb, "@sgl.function\ndef classify"))
    assert 'data-var="sentiment"' in classify and "sentiment scores" in classify
    facts = _cell(nb, "@sgl.function\ndef facts")
    assert 'data-var="year"' in _html(facts) and 'data-var="card"' in _html(facts)
    assert re.search(r"⟦year: [0-9]{4}⟧", _plain(facts))
    tips = _html(_cell(nb, "@sgl.function\ndef tip_suggestion"))
    assert 'class="sgl-fork"' in tips
    assert 'data-var="summary' in tips  # labelled where it is, or named as empty
    assert _html(_cell(nb, "classify.run_batch")).count('class="sgl-program"') == 3
    assert 'data-var="answer_2"' in _html(_cell(nb, "import sgl_notebook"))
    assert "stopped: frontend" in _plain(_cell(nb, "%sgl stop"))


def test_frontend_notebook_runs_on_the_tiny_model(tiny_model_dir):
    before = _engine_pids(str(tiny_model_dir))
    nb = _execute(NOTEBOOKS / "02_frontend_language.ipynb", model=str(tiny_model_dir))
    _check_frontend_renderings(nb)
    assert _engine_pids(str(tiny_model_dir)) <= before


def check_frontend_answers(nb: Any) -> None:
    """Every answer 02's text relies on is right (SmolLM2, temperature 0)."""
    first = _plain(_cell(nb, "import sglang as sgl"))
    assert "Paris" in _answer(first, "answer_1") and "Eiffel" in _answer(first, "answer_2")
    assert _answer(_plain(_cell(nb, "@sgl.function\ndef classify")), "sentiment") == "negative"
    facts = _plain(_cell(nb, "@sgl.function\ndef facts"))
    assert _answer(facts, "year") == "1945"
    card = json.loads(_answer(facts, "card"))
    assert card["name"] == "Rome" and card["country"].lower() == "italy", card
    batch = _plain(_cell(nb, "classify.run_batch")).split("[user]")[1:]
    assert [_answer(b, "sentiment") for b in batch] == ["positive", "negative", "positive"]
    streamed = _plain(_cell(nb, "import sgl_notebook"))
    assert "Tokyo" in _answer(streamed, "answer_1") and "Tokyo" in _answer(streamed, "answer_2")


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text!r}"
    return float(found.group(1))


def check_scheduler_notebook(nb: Any) -> None:
    """03's comparisons are the measured results: every number in its sentences is the one its
    BenchResults and the servers' stats hold, and every server is gone at the end.

    03 runs once in the suite, in the Binder environment (tests/test_binder.py), where
    `%sgl bench` has no torch: that run is the one that can break there and not here."""
    bench = _cell(nb, "%sgl bench --dataset shared-prefix")
    assert 'class="sgl-bench-progress"' in _html(bench)
    assert any("image/png" in o.get("data", {}) for o in bench.outputs)  # the live dashboard
    reading = _plain(_cell(nb, "import sgl_notebook"))
    at_once = _number(r"At most (\d+) requests ran at once", reading)
    assert at_once in (1, 2)  # never past --max-running-requests 2
    assert _number(r"and (\d+) waited", reading) >= 1  # 8 requests, 4 in flight, 2 slots
    assert _number(r"(\d+)% of the prompt tokens", reading) > 0  # shared prefixes hit the cache
    compare = _cell(nb, "%sgl bench --compare radix-on radix-off")
    assert "radix-on" in _html(compare) and "radix-off" in _html(compare)
    sentence = _plain(_cell(nb, "on, off = cache_cmp"))
    on_ttft = _number(r"median time to first token was ([0-9.]+) s", sentence)
    off_ttft = _number(r"against ([0-9.]+) s without it", sentence)
    assert on_ttft > 0 and off_ttft > 0
    table = _html(_cell(nb, "import pandas as pd"))
    assert "round_robin" in table and "cache_aware" in table and "cache hit %" in table
    split = _plain(_cell(nb, "def hit_rate"))
    rr = [int(n) for n in re.search(r"round_robin sent (\d+), (\d+)", split).groups()]
    ca = [int(n) for n in re.search(r"cache_aware (\d+), (\d+)", split).groups()]
    assert sum(rr) >= 8 and sum(ca) >= 8  # every request of the load went to a worker
    assert abs(rr[0] - rr[1]) <= 1  # round_robin takes turns
    assert "No servers" in _plain(_cell(nb, "%sgl list"))  # the kernel knows none still running
    launched = [
        int(pid)
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.startswith("%sgl launch")
        for pid in re.findall(r"pid: (\d+)", _plain(cell))
    ]
    assert len(launched) == 4  # two servers, two routers
    for pid in launched:  # other sessions on this machine run SmolLM2 too: only ours are checked
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


