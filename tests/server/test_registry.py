"""The on-disk registry: private files, atomic records, pruning, pid-reuse safety."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from dataclasses import replace

import psutil
import pytest

from sgl_notebook.server import registry
from sgl_notebook.server.registry import ServerRecord


def _record(pid: int, **changes: object) -> ServerRecord:
    base = ServerRecord(
        id=f"test{pid}", name=f"name{pid}", engine="cpu", model="m", url="http://127.0.0.1:1",
        host="127.0.0.1", port=1, pid=pid, pgid=pid, create_time=psutil.Process(pid).create_time(),
        started_at=time.time(), log_path=None, owner_pid=os.getpid(), owner_kernel_id=None,
        api_key="secret", managed=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def sleeper() -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)
    yield process
    process.kill()
    process.wait()


def test_records_are_private_and_round_trip(sleeper: subprocess.Popen[bytes]) -> None:
    record = _record(sleeper.pid)
    path = registry.write_record(record)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(registry.registry_dir().stat().st_mode) == 0o700
        assert registry.find_record(record.name) == record
        assert registry.find_record(record.id[:6]) == record
        assert record in registry.list_records()
        assert not list(registry.registry_dir().glob(".tmp-*"))
    finally:
        registry.remove_record(record.id)
    assert registry.find_record(record.name) is None


def test_dead_servers_are_pruned(sleeper: subprocess.Popen[bytes]) -> None:
    record = _record(sleeper.pid)
    registry.write_record(record)
    sleeper.kill()
    sleeper.wait()
    assert record not in registry.list_records()
    assert not (registry.registry_dir() / f"{record.id}.json").exists()


def test_stop_refuses_a_reused_pid(sleeper: subprocess.Popen[bytes]) -> None:
    # same pid, other create time: the pid now belongs to someone else
    record = _record(sleeper.pid, create_time=psutil.Process(sleeper.pid).create_time() - 100)
    registry.write_record(record)
    assert not registry.record_is_alive(record)
    assert registry.stop_record(record) is False
    assert sleeper.poll() is None  # not signalled
    assert registry.find_record(record.name) is None


def test_stop_record_ends_the_tree_and_its_log_files(sleeper: subprocess.Popen[bytes]) -> None:
    log = registry.registry_dir() / "logs" / f"test{sleeper.pid}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("[2025-07-28 04:59:51] Load weight begin. avail mem=1.00 GB\n")
    rotated = log.with_name(log.name + ".1")
    rotated.write_text("older lines\n")
    record = _record(sleeper.pid, log_path=str(log))
    registry.write_record(record)
    assert registry.stop_record(record, timeout=5) is True
    assert sleeper.wait(timeout=5) is not None
    # stopped from elsewhere (CLI, sidebar): nothing of the server is left on disk
    assert not log.exists() and not rotated.exists()
    assert registry.find_record(record.name) is None


def test_registry_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SGL_NOTEBOOK_REGISTRY_DIR", str(tmp_path / "reg"))
    assert registry.registry_dir() == tmp_path / "reg"
    monkeypatch.delenv("SGL_NOTEBOOK_REGISTRY_DIR")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "rt"))
    assert registry.registry_dir() == tmp_path / "rt" / "sgl-notebook"


def test_kernel_id_from_connection_file() -> None:
    assert registry.kernel_id_from_connection_file("/x/kernel-ab12-cd.json") == "ab12-cd"
    assert registry.kernel_id_from_connection_file("/tmp/tmpab12.json") == "tmpab12"
    assert registry.kernel_id_from_connection_file(None) is None
