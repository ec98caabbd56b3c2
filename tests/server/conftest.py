"""Fixtures for the lifecycle tests: a fake interpreter that runs the scripted stand-in."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import KernelManager

from tests.fixtures.processes import session_processes
from tests.fixtures.waits import eventually

# Also set by tests/conftest.py; repeated so `--confcutdir tests/server` runs stay private.
os.environ.setdefault(
    "SGL_NOTEBOOK_REGISTRY_DIR", tempfile.mkdtemp(prefix="sgl-notebook-test-registry-")
)

STANDIN = Path(__file__).with_name("standin_server.py")

_FAKE_PYTHON = """#!{python}
# Stands in for an environment with SGLang: "-m sglang.launch_server" runs the scripted
# stand-in; anything else (the launcher's import probe) runs the real interpreter.
import os, sys
args = sys.argv[1:]
if args[:2] == ["-m", "sglang.launch_server"]:
    os.execv({python!r}, [{python!r}, {standin!r}, "--dialect", "sglang", *args[2:]])
os.execv({python!r}, [{python!r}, *args])
"""

_FAKE_VLLM = """#!{python}
import os, sys
args = sys.argv[1:]
assert args[0] == "serve", args
os.execv({python!r}, [{python!r}, {standin!r}, "--dialect", "vllm", *args[1:]])
"""


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture(scope="session")
def fake_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin/ folder with ``python`` (SGLang stand-in) and ``vllm`` (vLLM stand-in)."""
    bindir = tmp_path_factory.mktemp("fake-env") / "bin"
    bindir.mkdir()
    values = {"python": sys.executable, "standin": str(STANDIN)}
    _executable(bindir / "python", _FAKE_PYTHON.format(**values))
    _executable(bindir / "vllm", _FAKE_VLLM.format(**values))
    return bindir


@pytest.fixture(scope="session")
def fake_python(fake_env: Path) -> str:
    return str(fake_env / "python")


def descendants() -> set[int]:
    """Live processes started (directly or not) by this test process, or in sessions we made."""
    me = psutil.Process()
    pids = {p.pid for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}
    return pids


def standin_processes() -> list[psutil.Process]:
    """Any process of this test session still running the stand-in or our watchdog."""
    return list(session_processes(str(STANDIN)))


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fails the test if it leaves a stand-in server, registry record or log file behind."""
    from sgl_notebook.server.registry import list_records, registry_dir

    before_records = {r.id for r in list_records()}
    before_pids = {p.pid for p in standin_processes()}
    before_logs = set((registry_dir() / "logs").glob("*.log"))
    yield
    # a watchdog's clean-up (after a kernel dies) is asynchronous: allow it a few seconds
    eventually(lambda: not (
        [p for p in standin_processes() if p.pid not in before_pids]
        or [r for r in list_records() if r.id not in before_records]
    ))
    leftover = [p for p in standin_processes() if p.pid not in before_pids]
    assert not leftover, f"processes left behind: {[p.cmdline() for p in leftover]}"
    records = [r for r in list_records() if r.id not in before_records]
    assert not records, f"registry records left behind: {records}"
    logs = [p for p in (registry_dir() / "logs").glob("*.log") if p not in before_logs]
    assert not logs or all(p.stem in {r.id for r in list_records()} for p in logs), logs


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_STEP_S", os.environ.get("STANDIN_STEP_S", "0.005"))


def launch_concurrently(
    count: int, launch_one: Callable[[int], Any]
) -> tuple[list[Any], list[BaseException]]:
    """Call ``launch_one(i)`` for ``i`` in ``range(count)`` on as many threads at once; return
    the servers that came up and the errors of those that did not (the caller stops them)."""
    servers: list[Any] = []
    failures: list[BaseException] = []

    def one(i: int) -> None:
        try:
            servers.append(launch_one(i))
        except BaseException as error:  # noqa: BLE001 -- reported to the test, not lost
            failures.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return servers, failures


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[KernelManager, Any]]:
    """A real python3 kernel (jupyter_client) and its client, shut down afterwards."""
    # named like Jupyter Server's connection files, so the kernel id can be read from it
    manager = KernelManager(
        kernel_name="python3", connection_file=str(tmp_path / f"kernel-{uuid.uuid4()}.json")
    )
    manager.start_kernel(env=dict(os.environ))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)
