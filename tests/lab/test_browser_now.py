"""The sidebar card and the status bar in a real browser read idle within 2 s of the last
request: Playwright and Debian's chromium against a real ``jupyter lab``, a real kernel and the
CPU engine. Screenshots land in ``test-artifacts/lab-now/``."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from sgl_notebook.server.registry import list_records, stop_record
from tests.lab.lab_process import LabProcess
from tests.lab.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LONG,
    run_cell,
    wait_cell_done,
    wait_kernel_idle,
)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lab-now"
IDLE_WITHIN_S = 2.0


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Overrides pytest-jupyter's autouse loop: Playwright's sync API runs its own."""


@pytest.fixture
def jp_server_cleanup() -> None:
    """Overrides pytest-jupyter's autouse cleanup: no in-process server here."""


@pytest.fixture
def lab(tmp_path: Path, tiny_model_dir: Path) -> Iterator[LabProcess]:
    root = tmp_path / "notebooks"
    root.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext sgl_notebook"),
        nbformat.v4.new_code_cell(
            f"%sgl launch {tiny_model_dir} --engine cpu --name tiny -- --decode-log-interval 8"
        ),
        nbformat.v4.new_code_cell(
            "%%sgl --max-tokens 1200 --temperature 1.0 --regex '[a-z ]+'\nSay hello, please."
        ),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, root / "now.ipynb")
    server = LabProcess(tmp_path, root)
    server.start()
    yield server
    server.stop()
    for record in list_records():
        stop_record(record)


@pytest.fixture
def page(lab: LabProcess) -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            yield page
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "last.png"))
            browser.close()


def test_sidebar_and_status_bar_read_idle_within_two_seconds(page: Any, lab: LabProcess) -> None:
    page.set_default_timeout(60_000)
    page.goto(f"{lab.url}/lab/tree/now.ipynb?token={lab.token}")
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(3, timeout=LONG)
    wait_kernel_idle(page)
    status = page.locator(".sgl-ServersStatus")
    status.click()
    card = page.locator("#sgl-notebook-servers .sgl-ServerCard")
    wait_cell_done(run_cell(page, 0))
    wait_cell_done(run_cell(page, 1))
    expect(card).to_have_count(1, timeout=LONG)

    prompt = run_cell(page, 2)
    throughput = card.locator(".sgl-ServerCard-throughput")
    busy = False
    while "*" in prompt.locator(".jp-InputPrompt").inner_text():
        busy = busy or bool(re.match(r"^(?!0\.0 )[\d.]+k? tok/s$", throughput.inner_text()))
        page.wait_for_timeout(200)
    done = time.monotonic()  # the browser saw the cell end: an upper bound on "last request"
    assert busy, "the card never showed a throughput while the cell streamed"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "streamed.png"))
    expect(status).to_have_text("SGLang: 1 running · 0.0 tok/s", timeout=10_000)
    expect(throughput).to_have_text("0.0 tok/s", timeout=10_000)
    expect(card).to_contain_text("running 0 · queued 0", timeout=10_000)
    took = time.monotonic() - done
    page.screenshot(path=str(ARTIFACTS / "idle.png"))
    assert took <= IDLE_WITHIN_S, f"the sidebar and status bar read idle only after {took:.1f} s"
