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

import psutil
import pytest

from sgl_notebook.server.registry import list_records
from tests.lab.browser import kit
from tests.lab.lab_process import LabProcess

pytestmark = kit.BROWSER_MARKS
expect = kit.expect

ARTIFACTS = kit.ARTIFACTS_ROOT / "lab"
# The tiny random model likes "\n"; the regex keeps its answer visible (letters and spaces).
# 1800 tokens (its context is 2048) stream for several of the sidebar's polls.
PROMPT_CELL = (
    "%%sgl --max-tokens 1800 --temperature 1.0 --regex '[a-z ]+' -o answer\n"
    "Say hello to {{ name }}, please."
)


@pytest.fixture
def lab(tmp_path: Path, tiny_model_dir: Path) -> Iterator[LabProcess]:
    cells = [
        '%load_ext sgl_notebook\nname = "Ada"',
        f"%sgl launch {tiny_model_dir} --engine cpu --name tiny -- --decode-log-interval 8",
        PROMPT_CELL,
        "print(answer.text[:40])",
    ]
    with kit.notebook_lab(tmp_path, "sgl-demo.ipynb", cells) as server:
        yield server


@pytest.fixture
def page(lab: LabProcess, request: pytest.FixtureRequest) -> Iterator[Any]:
    clipboard = ["clipboard-read", "clipboard-write"]  # to check the Copy button
    with kit.chromium_page(request, ARTIFACTS / "failure.png", permissions=clipboard) as page:
        yield page


def shot(page: Any, name: str) -> None:
    kit.save_shot(page, ARTIFACTS / f"{name}.png")


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
    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(4, timeout=kit.LONG)
    kit.wait_kernel_idle(page)

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
    kit.wait_cell_done(kit.run_cell(page, 0))
    launch_cell = kit.run_cell(page, 1)
    card = panel.locator(".sgl-ServerCard")
    expect(card).to_have_count(1, timeout=kit.LONG)
    kit.wait_cell_done(launch_cell)
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
    prompt_cell = kit.run_cell(page, 2)
    sparkline = card.locator(".sgl-Sparkline polyline")
    expect(sparkline).to_have_attribute("points", re.compile(r"\d"), timeout=kit.LONG)
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
    kit.wait_cell_done(prompt_cell)

    # the streamed answer is in the cell output: the kernel's `answer.text` is what was shown
    check_cell = kit.run_cell(page, 3)
    kit.wait_cell_done(check_cell)
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
