"""`make demo` end to end: the CPU engine on SmolLM2, an answer streamed through the OpenAI
client, the scheduler's lines, and nothing left running afterwards."""

from __future__ import annotations

import re
import subprocess
import sys

import psutil
import pytest

from sgl_notebook.server.ports import port_is_free


def _engine_processes_on(port: int) -> list[int]:
    return [
        process.pid
        for process in psutil.process_iter(["cmdline"])
        if "sgl_notebook.engine" in (cmdline := process.info["cmdline"] or [])
        and str(port) in cmdline
    ]


@pytest.mark.smollm
def test_demo_answers_paris_and_shows_scheduler_lines() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sgl_notebook.demo", "--max-tokens", "24"],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "A: " in out.stdout and "Paris" in out.stdout.split("A: ", 1)[1]
    assert "ready  Ready" in out.stdout  # the launch phases were shown
    assert "Prefill batch. #new-seq: 1" in out.stdout
    assert "Server stopped." in out.stdout
    port = int(re.search(r"Ready in [0-9.]+ s at http://127\.0\.0\.1:(\d+)", out.stdout)[1])
    assert _engine_processes_on(port) == []
    # A new server could bind the port (connections the old one closed may linger in
    # TIME_WAIT; servers bind with SO_REUSEADDR, so those do not count).
    assert port_is_free("127.0.0.1", port)


def test_demo_with_a_missing_model_fails_clearly() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sgl_notebook.demo", "/no/such/model"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode != 0
    assert "does not exist" in out.stderr
    assert "Traceback" not in out.stderr
