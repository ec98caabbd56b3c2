"""Idle shutdown: the server stops after idle_timeout, says so, and the next request restarts it."""

from __future__ import annotations

import time

import httpx
import pytest

import sgl_notebook as sn
from sgl_notebook.server.errors import ServerStoppedError

pytestmark = pytest.mark.usefixtures("no_leaks")


def wait_for(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_idle_stop_then_transparent_restart(fake_python: str) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, idle_timeout=1.0)
    try:
        url, first_pid = server.url, server.pid
        assert wait_for(lambda: server.status == "idle-stopped")
        assert not server.is_alive()
        assert any("Stopped after" in line and "idle_timeout=1.0" in line for line in server.logs())
        # the next request through the Server starts it again, on the same URL
        assert server.generate("The capital of France is").text == " Paris"
        assert server.status == "ready" and server.is_alive()
        assert server.url == url and server.pid != first_pid
    finally:
        server.stop()


def test_requests_seen_in_the_log_keep_it_alive(fake_python: str, tmp_path) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, idle_timeout=1.5)
    try:
        # requests from another client (only visible as access lines in the log)
        for _ in range(8):
            httpx.post(server.url + "/generate", json={"text": "x"}, trust_env=False)
            time.sleep(0.4)
        assert server.status == "ready" and server.is_alive()
        assert wait_for(lambda: server.status == "idle-stopped")
        # the idle shutdown took its log file: asking for a copy now says so
        with pytest.raises(ServerStoppedError, match="deleted when it stopped earlier"):
            server.stop(save_log=tmp_path / "after-idle.log")
        assert not (tmp_path / "after-idle.log").exists()
        assert server.status == "idle-stopped" and not server.is_alive()
    finally:
        server.stop()


def test_restart_disabled_gives_a_clear_error(fake_python: str) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, idle_timeout=1.0)
    server.auto_restart = False
    try:
        assert wait_for(lambda: server.status == "idle-stopped")
        expected = r"stopped after 1.0 s idle; call server.restart"
        with pytest.raises(ServerStoppedError, match=expected):
            server.chat("hi")
        server.restart()
        assert server.chat("hi").text == "echo: hi"
    finally:
        server.stop()


def test_bad_idle_timeout() -> None:
    with pytest.raises(ValueError, match="idle_timeout must be positive"):
        sn.launch("org/ok", engine="cpu", idle_timeout=0)
