"""Idle shutdown: the server stops after idle_timeout, says so, and the next request restarts it."""

from __future__ import annotations

import time

import httpx
import pytest

import sgl_notebook as sn
from sgl_notebook.server.errors import ServerStoppedError
from sgl_notebook.server.idle import IdleMonitor
from tests.fixtures.waits import FakeClock, eventually

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_idle_stop_then_transparent_restart(fake_python: str) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, idle_timeout=1.0)
    try:
        url, first_pid = server.url, server.pid
        assert eventually(lambda: server.status == "idle-stopped")
        assert not server.is_alive()
        assert any("Stopped after" in line and "idle_timeout=1.0" in line for line in server.logs())
        # the next request through the Server starts it again, on the same URL
        assert server.generate("The capital of France is").text == " Paris"
        assert server.status == "ready" and server.is_alive()
        assert server.url == url and server.pid != first_pid
    finally:
        server.stop()


def wait_for_access_line(server: sn.Server, request: str, seen: int) -> None:
    """Wait until the log holds more than ``seen`` access lines of ``request`` (the log pump has
    passed them to the idle monitor by then)."""
    assert eventually(lambda: count_lines(server, request) > seen), server.logs(10)


def count_lines(server: sn.Server, request: str) -> int:
    return sum(request in line for line in server.logs())


def test_requests_seen_in_the_log_keep_it_alive(fake_python: str) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, idle_timeout=600)
    try:
        # a probe from another client is not a request: the idle clock is not reset
        before_probe = time.monotonic()
        seen = count_lines(server, '"GET /health')
        httpx.get(server.url + "/health", trust_env=False)
        wait_for_access_line(server, '"GET /health', seen)
        assert server.last_request_at is not None and server.last_request_at < before_probe
        # a request from another client, seen only as an access line in the log, resets it
        before_request = time.monotonic()
        seen = count_lines(server, '"POST /generate')
        httpx.post(server.url + "/generate", json={"text": "x"}, trust_env=False)
        wait_for_access_line(server, '"POST /generate', seen)
        assert server.last_request_at is not None and server.last_request_at >= before_request
        assert server.status == "ready" and server.is_alive()
    finally:
        server.stop()
    assert server.last_request_at is None


def test_saving_the_log_after_an_idle_stop_says_it_is_gone(fake_python: str, tmp_path) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, idle_timeout=1.0)
    try:
        assert eventually(lambda: server.status == "idle-stopped")
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
        assert eventually(lambda: server.status == "idle-stopped")
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


def test_the_monitor_fires_once_after_the_timeout_without_touches() -> None:
    clock, fired = FakeClock(), []
    monitor = IdleMonitor(5.0, fired.append, clock=clock)
    assert monitor.check() == 5.0 and monitor.last_activity == 100.0
    clock.now = 103.0
    assert monitor.check() == 2.0 and fired == []
    monitor.touch()  # a request at 103: five more seconds from here
    clock.now = 107.5
    assert monitor.check() == 0.5 and monitor.idle_for == 4.5
    clock.now = 108.25
    assert monitor.check() is None and fired == [5.25]
    clock.now = 200.0
    assert monitor.check() is None and fired == [5.25]  # once only


def test_a_stopped_monitor_never_fires() -> None:
    clock, fired = FakeClock(), []
    monitor = IdleMonitor(1.0, fired.append, clock=clock)
    monitor.stop()
    clock.now = 1000.0
    assert monitor.check() is None and fired == []
    with pytest.raises(ValueError, match="must be positive"):
        IdleMonitor(0.0, fired.append, clock=clock)
