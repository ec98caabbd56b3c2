"""The sidebar card and the status bar in a real browser read idle within 2 s of the last
request: Playwright and Debian's chromium against a real ``jupyter lab``, a real kernel and the
CPU engine. Screenshots land in ``test-artifacts/lab-now/``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab.browser import kit
from tests.lab.lab_process import LabProcess

pytestmark = kit.BROWSER_MARKS
expect = kit.expect

ARTIFACTS = kit.ARTIFACTS_ROOT / "lab-now"
IDLE_WITHIN_S = 2.0


@pytest.fixture
def lab(tmp_path: Path, tiny_model_dir: Path) -> Iterator[LabProcess]:
    cells = [
        "%load_ext sgl_notebook",
        f"%sgl launch {tiny_model_dir} --engine cpu --name tiny -- --decode-log-interval 8",
        "%%sgl --max-tokens 1200 --temperature 1.0 --regex '[a-z ]+'\nSay hello, please.",
    ]
    with kit.notebook_lab(tmp_path, "now.ipynb", cells) as server:
        yield server


@pytest.fixture
def page(lab: LabProcess) -> Iterator[Any]:
    with kit.chromium_page() as page:
        try:
            yield page
        finally:
            kit.save_shot(page, ARTIFACTS / "last.png")


def test_sidebar_and_status_bar_read_idle_within_two_seconds(page: Any, lab: LabProcess) -> None:
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/lab/tree/now.ipynb?token={lab.token}")
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(3, timeout=kit.LONG)
    kit.wait_kernel_idle(page)
    status = page.locator(".sgl-ServersStatus")
    status.click()
    card = page.locator("#sgl-notebook-servers .sgl-ServerCard")
    kit.wait_cell_done(kit.run_cell(page, 0))
    kit.wait_cell_done(kit.run_cell(page, 1))
    expect(card).to_have_count(1, timeout=kit.LONG)

    prompt = kit.run_cell(page, 2)
    throughput = card.locator(".sgl-ServerCard-throughput")
    busy = False
    while "*" in prompt.locator(".jp-InputPrompt").inner_text():
        busy = busy or bool(re.match(r"^(?!0\.0 )[\d.]+k? tok/s$", throughput.inner_text()))
        page.wait_for_timeout(200)
    done = time.monotonic()  # the browser saw the cell end: an upper bound on "last request"
    assert busy, "the card never showed a throughput while the cell streamed"
    kit.save_shot(page, ARTIFACTS / "streamed.png")
    expect(status).to_have_text("SGLang: 1 running · 0.0 tok/s", timeout=10_000)
    expect(throughput).to_have_text("0.0 tok/s", timeout=10_000)
    expect(card).to_contain_text("running 0 · queued 0", timeout=10_000)
    took = time.monotonic() - done
    kit.save_shot(page, ARTIFACTS / "idle.png")
    assert took <= IDLE_WITHIN_S, f"the sidebar and status bar read idle only after {took:.1f} s"
