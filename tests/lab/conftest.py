"""Fixtures for the Jupyter server extension and lab extension tests.

pytest-jupyter's fixtures are imported here (a non-root conftest may not use ``pytest_plugins``).
``fake_server`` starts a real process that writes SGLang log lines and registers it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 -- the jp_* fixtures

from sgl_notebook.protocol.sglang_format import READY_MESSAGE
from sgl_notebook.server.proctree import terminate_tree
from sgl_notebook.server.registry import ServerRecord, remove_record, write_record

FAKE_SERVER = Path(__file__).with_name("fake_sglang_server.py")
FAKE_API_KEY = "sk-sgl-notebook-test-secret-4711"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Keep the call phase's report on the item, so fixtures can screenshot failures."""
    report = yield
    if call.when == "call":
        item.lab_call_report = report  # type: ignore[attr-defined]
    return report


@pytest.fixture
def jp_server_config() -> dict[str, object]:  # overrides pytest-jupyter's
    return {"ServerApp": {"jpserver_extensions": {"sgl_notebook.jupyter_server": True}}}


def wait_for_text(path: Path, text: str, timeout: float = 30.0) -> None:
    """Readiness check: poll a log until it contains ``text``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.02)
    raise TimeoutError(f"{path} never contained {text!r}")


class FakeServer:
    """A running fake SGLang process and its registry record."""

    def __init__(self, process: subprocess.Popen[bytes], record: ServerRecord) -> None:
        self.process = process
        self.record = record

    @property
    def log_path(self) -> Path:
        assert self.record.log_path
        return Path(self.record.log_path)

    def tree_pids(self) -> list[int]:
        root = psutil.Process(self.process.pid)
        return [root.pid] + [child.pid for child in root.children(recursive=True)]


@pytest.fixture
def fake_server_factory(tmp_path: Path) -> Iterator[Callable[..., FakeServer]]:
    """Start fake servers on demand; every one is ended and unregistered afterwards."""
    started: list[FakeServer] = []

    def start(name: str = "fake", owner_pid: int | None = None, **fields: object) -> FakeServer:
        server_id = uuid.uuid4().hex[:12]
        log_path = tmp_path / f"{server_id}.log"
        process = subprocess.Popen(
            [sys.executable, str(FAKE_SERVER), str(log_path), FAKE_API_KEY],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
        )
        wait_for_text(log_path, READY_MESSAGE)
        values: dict[str, object] = {
            "id": server_id,
            "name": name,
            "engine": "sglang",
            "model": "fake-org/Fake-Model-0.5B-Instruct",
            "url": "http://127.0.0.1:39999",  # shown only; nothing listens there
            "host": "127.0.0.1",
            "port": 39999,
            "pid": process.pid,
            "pgid": process.pid,
            "create_time": psutil.Process(process.pid).create_time(),
            "started_at": time.time(),
            "log_path": str(log_path),
            "owner_pid": os.getpid() if owner_pid is None else owner_pid,
            "owner_kernel_id": None,
            "api_key": FAKE_API_KEY,
            "managed": True,
        }
        values.update(fields)
        record = ServerRecord(**values)  # type: ignore[arg-type]
        write_record(record)
        server = FakeServer(process, record)
        started.append(server)
        wait_for_text(log_path, "Decode batch.")
        return server

    yield start
    for server in started:
        remove_record(server.record.id)
        with contextlib.suppress(psutil.NoSuchProcess):
            terminate_tree(server.process.pid, server.process.pid, timeout=5)
        server.process.wait(timeout=10)


@pytest.fixture
def fake_server(fake_server_factory: Callable[..., FakeServer]) -> FakeServer:
    return fake_server_factory()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (a kernel that is gone)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
