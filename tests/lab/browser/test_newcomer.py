"""What a newcomer sees in JupyterLab (issue 12), in a real browser: the launch view (ticking
clock, engine and why, only its phases, "Ready in" with an aligned table), the logprob legend and
hover card, ``--n`` cards, one-line errors with no stub, ``%sgl info``, the status-bar item lined
up with its neighbours, and the sidebar's log tail without the toolkit's own polling.

Playwright drives Debian's chromium against a real ``jupyter lab`` and a real kernel launching
the CPU engine's default model. A screenshot of each view lands in ``test-artifacts/newcomer/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sgl_notebook.server.registry import list_records
from tests.lab.browser import kit
from tests.lab.lab_process import LabProcess

pytestmark = kit.BROWSER_MARKS
expect = kit.expect

ARTIFACTS = kit.ARTIFACTS_ROOT / "newcomer"
CELLS = [
    "%load_ext sgl_notebook\nimport os\nos.environ['CUDA_VISIBLE_DEVICES'] = ''  # no GPU here",
    "%sgl launch --name nc -- --enable-metrics --enable-cache-report",
    "%%sgl --logprobs --max-tokens 12 --temperature 0\nSay hello to the sea.",
    "%%sgl --n 3 --max-tokens 12 --temperature 1\nName a colour of the sea.",
    "%%sgl --regex '[0-9'\nA number?",
    "%%sgl --json-schema '{\"type\": \"object\", "
    "\"properties\": {\"name\": {\"type\": \"objekt\"}}}'\nA person",
    "%sgl info",
]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabProcess]:
    with kit.notebook_lab(tmp_path, "newcomer.ipynb", CELLS) as server:
        yield server


@pytest.fixture
def page(lab: LabProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    with kit.chromium_page(request, ARTIFACTS / "failure.png") as page:
        yield page


def shot(target: Any, name: str) -> None:
    target.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def output_of(cell: Any) -> Any:
    return cell.locator(".jp-OutputArea")


def text_centre_y(page: Any, selector: str) -> list[float]:
    """Vertical centre of the rendered text of each element (its text nodes, not its box)."""
    return list(
        page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)].map(el => {
                const range = document.createRange();
                range.selectNodeContents(el);
                const r = range.getBoundingClientRect();
                return r.height > 0 ? r.top + r.height / 2 : null;
            }).filter(y => y !== null)""",
            selector,
        )
    )


def test_newcomer_views(page: Any, lab: LabProcess) -> None:
    page.set_default_timeout(60_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{lab.url}/lab/tree/newcomer.ipynb?token={lab.token}")
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(len(CELLS), timeout=kit.LONG)
    kit.wait_kernel_idle(page)
    kit.wait_cell_done(kit.run_cell(page, 0))

    # --- the launch view: header, phases of this engine, a clock that ticks
    launch = kit.run_cell(page, 1)
    clock = output_of(launch).locator(".sgl-launch-clock")
    expect(clock).to_be_visible(timeout=kit.LONG)
    header = output_of(launch).locator(".sgl-card").first.inner_text()
    assert "launching smollm2 (SmolLM2-135M-Instruct) on the cpu engine" in header
    assert "no GPU is visible, so the bundled CPU engine runs" in header
    assert "graph capture" not in header and "loading weights" in header
    launch.screenshot(path=str(ARTIFACTS / "01-launch-view.png"))
    seen: set[str] = set()
    while clock.count() and len(seen) < 3:
        seen.add(clock.first.inner_text(timeout=5_000) if clock.count() else "")
        page.wait_for_timeout(150)
    kit.wait_cell_done(launch)
    seen.discard("")
    assert len(seen) >= 2, f"the launch clock never moved: {seen}"

    # --- the final card: how long it took, labels and values in two straight columns
    final = output_of(launch).locator(".sgl-card")
    expect(final).to_contain_text(re.compile(r"Ready in \d+\.\d s"))
    geometry = final.evaluate(
        """card => [...card.querySelectorAll('tr')].map(tr => {
            const [th, td] = tr.children;
            return [th.getBoundingClientRect().left, td.getBoundingClientRect().left,
                    getComputedStyle(th).textAlign, getComputedStyle(td).textAlign,
                    td.firstElementChild.getBoundingClientRect().left];
        })"""
    )
    assert len(geometry) >= 4
    assert len({round(g[0]) for g in geometry}) == 1  # labels line up
    assert len({round(g[4]) for g in geometry}) == 1  # values start in one column
    assert all(g[2] == "left" and g[3] == "left" for g in geometry)
    final.screenshot(path=str(ARTIFACTS / "02-ready-card.png"))

    # --- the status bar item sits on the same line as its neighbours
    status = page.locator(".sgl-ServersStatus")
    expect(status).to_contain_text("SGLang: 1 running", timeout=30_000)
    ours = text_centre_y(page, ".sgl-ServersStatus")
    others = text_centre_y(page, "#jp-main-statusbar .jp-StatusBar-TextItem")
    assert ours and others
    assert all(abs(ours[0] - y) <= 1.0 for y in others), (ours, others)
    page.locator("#jp-main-statusbar").screenshot(path=str(ARTIFACTS / "03-status-bar.png"))

    # --- logprobs: a legend, and a styled card on hover (no native tooltip)
    colours = kit.run_cell(page, 2)
    kit.wait_cell_done(colours)
    legend = output_of(colours).locator(".sgl-logprob-legend")
    expect(legend).to_contain_text("hover a token for the alternatives")
    token = output_of(colours).locator(".sgl-tok").first
    card = token.locator(".sgl-tok-card")
    expect(card).to_be_hidden()
    assert token.get_attribute("title") is None
    token.hover()
    expect(card).to_be_visible()
    expect(card).to_contain_text("p = ")
    # the whole card shows: the output area does not clip it
    clipped = card.evaluate(
        """card => {
            const r = card.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + 4, r.bottom - 3);
            return !card.contains(hit);
        }"""
    )
    assert not clipped, "the hover card is cut off by the output area"
    box = colours.bounding_box()
    page.screenshot(
        path=str(ARTIFACTS / "04-logprob-hover.png"),
        clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"] + 110},
    )

    # --- --n: every card is "sample i", never "answer"
    samples = kit.run_cell(page, 3)
    kit.wait_cell_done(samples)
    titles = output_of(samples).locator(".sgl-card > div:first-child").all_inner_texts()
    assert [t.split(" ·")[0] for t in titles] == ["sample 1", "sample 2", "sample 3"]
    output_of(samples).screenshot(path=str(ARTIFACTS / "05-n-samples.png"))

    # --- mistakes: one line each, no empty stream stub above
    for index, needle in (
        (4, "unterminated character set at position 0"),
        (5, "properties.name.type: 'objekt' is not a JSON type"),
    ):
        cell = kit.run_cell(page, index)
        kit.wait_cell_done(cell)
        area = output_of(cell)
        expect(area.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"))\
            .to_contain_text(needle)
        assert area.locator(".jp-OutputArea-output").count() == 1
        assert "tokens: 0" not in area.inner_text()
    first, second = (page.locator(".jp-Notebook .jp-Cell").nth(i) for i in (4, 5))
    second.evaluate("cell => cell.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    top, bottom = first.bounding_box(), second.bounding_box()
    page.screenshot(
        path=str(ARTIFACTS / "06-errors.png"),
        clip={"x": top["x"], "y": top["y"], "width": top["width"],
              "height": bottom["y"] + bottom["height"] - top["y"]},
    )

    # --- %sgl info: the context length comes from the server, never "None"
    info = kit.run_cell(page, 6)
    kit.wait_cell_done(info)
    table = output_of(info).inner_text()
    assert "None" not in table and re.search(r"context_length\s+\d+", table)
    output_of(info).screenshot(path=str(ARTIFACTS / "07-info.png"))

    # --- the sidebar's log tail: the toolkit's polling left out (and said so), lines wrap
    (record,) = [r for r in list_records() if r.name == "nc"]
    for _ in range(8):  # what the dashboard and load reports do
        httpx.get(f"{record.url}/metrics", timeout=10)
        httpx.get(f"{record.url}/health", timeout=10)
    status.click()
    panel = page.locator("#sgl-notebook-servers")
    server_card = panel.locator(".sgl-ServerCard")
    expect(server_card).to_have_count(1, timeout=kit.LONG)
    url = server_card.locator(".sgl-ServerCard-url")
    assert url.get_attribute("title") == record.url  # the whole URL on hover
    server_card.locator(".sgl-ServerCard-logsSummary").click()
    tail = server_card.locator(".sgl-ServerCard-logText")
    expect(tail.locator(".sgl-LogTail-note")).to_contain_text("polling lines hidden")
    expect(tail).to_contain_text("POST /v1/chat/completions", timeout=30_000)
    lines = tail.locator(".sgl-LogLine")
    texts = lines.all_inner_texts()
    assert texts and not any("GET /metrics" in t or "GET /health " in t for t in texts)
    assert lines.first.get_attribute("title") == texts[0].replace("\n", "")
    overflow = tail.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 1, "long log lines should wrap in the narrow sidebar"
    tail.evaluate("el => { el.scrollTop = 0; }")  # the note about hidden lines is on top
    time.sleep(0.5)
    panel.screenshot(path=str(ARTIFACTS / "08-log-tail.png"))
