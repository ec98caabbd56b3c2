"""The lab extension in a real browser: Playwright driving Debian's chromium against a real
``jupyter lab``, a real kernel, ``%sgl launch`` on the CPU engine with the tiny model, a streaming
``%%sgl`` cell, the sidebar, the status bar and the stop button.

Screenshots of every step land in ``test-artifacts/lab/``.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest

from sgl_notebook.server.registry import list_records, stop_record
from tests.lab.lab_process import LabProcess

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "lab"
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
LONG = 180_000  # ms: the machine's two cores are shared with the whole team
# The tiny random model likes "\n"; the regex keeps its answer visible (letters and spaces).
# 1800 tokens (its context is 2048) stream for several of the sidebar's 2 s polls even on an
# idle machine (~400 tok/s).
PROMPT_CELL = (
    "%%sgl --max-tokens 1800 --temperature 1.0 --regex '[a-z ]+' -o answer\n"
    "Say hello to {{ name }}, please."
)


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
        nbformat.v4.new_code_cell('%load_ext sgl_notebook\nname = "Ada"'),
        nbformat.v4.new_code_cell(
            f"%sgl launch {tiny_model_dir} --engine cpu --name tiny -- --decode-log-interval 8"
        ),
        nbformat.v4.new_code_cell(PROMPT_CELL),
        nbformat.v4.new_code_cell("print(answer.text[:40])"),
    ]
    notebook.metadata["kernelspec"] = {  # no "select kernel" dialog
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, root / "sgl-demo.ipynb")
    server = LabProcess(tmp_path, root)
    server.start()
    yield server
    server.stop()
    for record in list_records():  # a failed test must not leave an engine behind
        stop_record(record)


@pytest.fixture
def page(lab: LabProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A chromium page; Playwright is started and stopped here, not per session, so its event
    loop is gone before any other test (asyncio ones included) runs."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            viewport={"width": 1400, "height": 900},
            permissions=["clipboard-read", "clipboard-write"],  # to check the Copy button
        )
        page = context.new_page()
        try:
            yield page
        finally:
            report = getattr(request.node, "lab_call_report", None)
            if report is not None and report.failed:
                shot(page, "failure")
            context.close()
            browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


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


def joined_text(editor: Any, selector: str) -> str:
    return "".join(editor.locator(selector).all_text_contents())


def color_of(locator: Any) -> str:
    return str(locator.evaluate("e => getComputedStyle(e).color"))


def processes_of(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_sidebar_follows_a_server_launched_from_a_notebook(page: Any, lab: LabProcess) -> None:
    page.set_default_timeout(60_000)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # only this run's screenshots
    page.goto(f"{lab.url}/lab/tree/sgl-demo.ipynb?token={lab.token}")
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(4, timeout=LONG)
    wait_kernel_idle(page)

    # the status bar item says nothing runs yet; clicking it opens the empty sidebar
    status = page.locator(".sgl-ServersStatus")
    expect(status).to_have_text("SGLang: none running")
    status.click()
    panel = page.locator("#sgl-notebook-servers")
    expect(panel).to_be_visible()
    expect(panel.locator(".sgl-ServersPanel-empty")).to_contain_text("%sgl launch")
    shot(page, "01-empty-sidebar")

    # %%sgl cell highlighting: the magic, its options and the placeholder get their own colours
    # (the Python highlighter's own spans may cut ours in pieces: join the pieces' text)
    prompt_editor = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".cm-content")
    expect(prompt_editor.locator(".sgl-cm-placeholder").first).to_be_visible()
    assert joined_text(prompt_editor, ".sgl-cm-magic") == "%%sgl"
    assert joined_text(prompt_editor, ".sgl-cm-option") == "--max-tokens--temperature--regex-o"
    assert joined_text(prompt_editor, ".sgl-cm-value") == "18001.0'[a-z ]+'answer"
    assert joined_text(prompt_editor, ".sgl-cm-placeholder") == "{{ name }}"
    magic_color = color_of(prompt_editor.locator(".sgl-cm-magic").first)
    option_color = color_of(prompt_editor.locator(".sgl-cm-option").first)
    prose_color = color_of(prompt_editor.locator(".sgl-cm-promptLine"))
    placeholder_color = color_of(prompt_editor.locator(".sgl-cm-placeholder").first)
    assert len({magic_color, option_color, prose_color}) == 3
    assert placeholder_color != prose_color
    launch_editor = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-content")
    assert joined_text(launch_editor, ".sgl-cm-subcommand") == "launch"
    shot(page, "02-highlighted-cells")

    # %load_ext and %sgl launch in the kernel: the server appears in the sidebar
    wait_cell_done(run_cell(page, 0))
    launch_cell = run_cell(page, 1)
    card = panel.locator(".sgl-ServerCard")
    expect(card).to_have_count(1, timeout=LONG)
    wait_cell_done(launch_cell)
    expect(card.locator(".sgl-ServerCard-name")).to_have_text("tiny")
    expect(card.locator(".sgl-ServerCard-engine")).to_have_text("cpu")
    expect(card.locator(".sgl-ServerCard-status")).to_have_text("running")
    expect(card.locator(".sgl-ServerCard-url")).to_have_text(
        re.compile(r"^http://127\.0\.0\.1:\d+$")
    )
    expect(card.locator(".sgl-ServerCard-kernel")).to_have_text("sgl-demo.ipynb", timeout=30_000)
    expect(status).to_contain_text("SGLang: 1 running")
    card.locator(".sgl-ServerCard-copy").click()
    url = card.locator(".sgl-ServerCard-url").inner_text()
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    (record,) = list_records()
    assert record.name == "tiny" and record.pid is not None
    engine_processes = processes_of(record.pid)
    assert engine_processes
    shot(page, "03-server-in-sidebar")

    # a %%sgl cell streams: the sidebar's throughput and sparkline move while it runs
    prompt_cell = run_cell(page, 2)
    sparkline = card.locator(".sgl-Sparkline polyline")
    expect(sparkline).to_have_attribute("points", re.compile(r"\d"), timeout=LONG)
    previous = sparkline.get_attribute("points")
    moved_while_streaming = False
    positive_rates: set[str] = set()
    deadline = time.monotonic() + 120
    while not moved_while_streaming and time.monotonic() < deadline:
        page.wait_for_timeout(250)  # the sidebar polls every 2 s; this only paces the checks
        streaming = "*" in prompt_cell.locator(".jp-InputPrompt").inner_text()
        points = sparkline.get_attribute("points")
        rate = card.locator(".sgl-ServerCard-throughput").inner_text()
        if re.match(r"^(?!0\.0 )[\d.]+k? tok/s$", rate):
            positive_rates.add(rate)
        moved_while_streaming = streaming and points != previous and bool(positive_rates)
        previous = points
        if not streaming:
            break
    shot(page, "04-streaming-throughput")
    assert moved_while_streaming, "the sparkline and throughput did not move while the cell ran"
    expect(status).to_contain_text(re.compile(r"1 running · [\d.]+k? tok/s"))
    wait_cell_done(prompt_cell)

    # the streamed answer is in the cell output: the kernel's `answer.text` is what was shown
    check_cell = run_cell(page, 3)
    wait_cell_done(check_cell)
    shot(page, "05-streamed-answer")
    head = (check_cell.locator(".jp-OutputArea-output").inner_text()).strip()
    assert len(head) >= 10, f"no answer text captured: {head!r}"
    shown = prompt_cell.locator(".jp-OutputArea").inner_text()
    assert " ".join(head.split())[:20] in " ".join(shown.split())

    # the log tail opens and shows the engine's scheduler lines
    card.locator(".sgl-ServerCard-logsSummary").click()
    expect(card.locator(".sgl-ServerCard-logText")).to_contain_text("Decode batch.", timeout=30_000)
    shot(page, "06-log-tail")

    # dark theme: the same sidebar, still readable
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=60_000)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0, timeout=60_000)
    shot(page, "07-dark-theme")

    # stop from the sidebar, confirm, and the server and its processes are gone
    card.locator(".sgl-ServerCard-stop").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Stop SGLang server?")
    expect(dialog).to_contain_text("tiny")
    shot(page, "08-stop-dialog")
    dialog.get_by_role("button", name="Stop server").click()
    expect(card).to_have_count(0, timeout=60_000)
    expect(panel.locator(".sgl-ServersPanel-empty")).to_be_visible()
    expect(status).to_have_text("SGLang: none running", timeout=30_000)
    shot(page, "09-stopped")
    assert list_records() == []
    _, alive = psutil.wait_procs(engine_processes, timeout=30)
    # a zombie has exited; only its parent (the kernel, which launched it) can reap it
    running = [p for p in alive if _status(p) not in (None, psutil.STATUS_ZOMBIE)]
    assert not running, f"processes left behind: {running}"


def _status(process: psutil.Process) -> str | None:
    try:
        return str(process.status())
    except psutil.NoSuchProcess:
        return None
