"""What every browser test shares: Debian's chromium under Playwright, a ``jupyter lab`` serving
a notebook written for the test, and the waits a notebook page needs.

A browser test module builds its ``lab`` fixture with :func:`notebook_lab` and its ``page`` with
:func:`chromium_page`; this folder's conftest switches pytest-jupyter's autouse fixtures off.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from sgl_notebook.server.registry import list_records, stop_record
from tests.lab.lab_process import LabProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LONG = 180_000  # ms: the machine's two cores are shared with the rest of the suite
ARTIFACTS_ROOT = Path(__file__).resolve().parents[3] / "test-artifacts"
VIEWPORT = {"width": 1400, "height": 900}

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"),
]


@contextlib.contextmanager
def notebook_lab(tmp_path: Path, name: str, cells: list[str]) -> Iterator[LabProcess]:
    """``jupyter lab`` serving ``notebooks/<name>`` made of these code cells (python3 kernel, so
    no "select kernel" dialog); every server the notebook launched is stopped afterwards, even
    when the test failed."""
    root = tmp_path / "notebooks"
    root.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, root / name)
    server = LabProcess(tmp_path, root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for record in list_records():
            stop_record(record)


@contextlib.contextmanager
def chromium_page(
    request: pytest.FixtureRequest | None = None,
    failure_shot: Path | None = None,
    **context_options: Any,
) -> Iterator[Any]:
    """A chromium page; Playwright is started and stopped here, not per session, so its event
    loop is gone before any other test (asyncio ones included) runs. With ``request`` and
    ``failure_shot``, a failed test leaves a screenshot there."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=VIEWPORT, **context_options)
        page = context.new_page()
        try:
            yield page
        finally:
            report = getattr(request.node, "lab_call_report", None) if request else None
            if failure_shot is not None and report is not None and report.failed:
                save_shot(page, failure_shot)
            context.close()
            browser.close()


def save_shot(target: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(path))


def wait_kernel_idle(page: Any, timeout: int = LONG) -> None:
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return !!k && k.status === 'idle';
        }""",
        timeout=timeout,
    )


def run_cell(page: Any, index: int) -> Any:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    return cell


def wait_cell_done(cell: Any, timeout: int = LONG) -> None:
    # the prompt shows "[n]:" once the cell ran, "[*]:" while it runs
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]:"), timeout=timeout)
