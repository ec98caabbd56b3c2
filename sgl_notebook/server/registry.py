"""On-disk registry of running servers: one JSON file per server, shared by every kernel.

Where: ``$SGL_NOTEBOOK_REGISTRY_DIR``, else ``<jupyter runtime dir>/sgl-notebook``. The directory is
mode 0700 and every record 0600 (records can hold API keys); records are written atomically
(temp file + rename), so readers never see half a record.

The CLI (``sgl-notebook ps|stop|logs``), the magics and the Jupyter server extension all go
through this module. Stopping by record checks pid *and* create time, so a reused pid is never
signalled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgl_notebook.server.proctree import process_matches, terminate_tree

__all__ = [
    "ServerRecord",
    "registry_dir",
    "write_record",
    "remove_record",
    "list_records",
    "find_record",
    "record_is_alive",
    "owner_is_alive",
    "stop_record",
    "stopped_by",
    "kernel_id_from_connection_file",
]

STOP_NOTE_SUFFIX = ".stopped"  # beside a record: who stopped it (read by the owning kernel)
STOP_NOTE_MAX_AGE_S = 24 * 3600


@dataclass(frozen=True)
class ServerRecord:
    """What the registry knows about one server."""

    id: str
    name: str
    engine: str
    model: str
    url: str
    host: str
    port: int
    pid: int | None
    pgid: int | None
    create_time: float | None  # psutil's create time of ``pid``: guards against pid reuse
    started_at: float  # epoch seconds
    log_path: str | None
    owner_pid: int | None  # the process that launched it; None for connected servers
    owner_kernel_id: str | None
    api_key: str | None
    managed: bool
    # Process that registered a connected (unmanaged) server; its record goes when it does.
    connected_by_pid: int | None = None
    # Routers: the worker records behind one, its Prometheus port, and on a worker the router
    # that launched it (stopping that router stops it too).
    worker_ids: tuple[str, ...] = ()
    metrics_port: int | None = None
    router_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        values["worker_ids"] = tuple(values.get("worker_ids") or ())  # JSON has lists
        return cls(**values)


def _default_runtime_dir() -> Path:
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        return Path(jupyter_runtime_dir())
    except ImportError:  # same default as jupyter_core
        data = os.environ.get("JUPYTER_DATA_DIR") or os.path.join(
            os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "jupyter"
        )
        return Path(os.environ.get("JUPYTER_RUNTIME_DIR") or os.path.join(data, "runtime"))


def registry_dir() -> Path:
    """The registry directory (created, mode 0700)."""
    configured = os.environ.get("SGL_NOTEBOOK_REGISTRY_DIR")
    path = Path(configured) if configured else _default_runtime_dir() / "sgl-notebook"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):
        os.chmod(path, 0o700)
    return path


def _record_path(server_id: str) -> Path:
    if not server_id or "/" in server_id or server_id.startswith("."):
        raise ValueError(f"invalid server id {server_id!r}")
    return registry_dir() / f"{server_id}.json"


def write_record(record: ServerRecord) -> Path:
    """Write (or replace) a record atomically with mode 0600; returns its path."""
    path = _record_path(record.id)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record.to_json(), handle, indent=1)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def remove_record(server_id: str) -> None:
    """Delete a record; missing records are fine."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        _record_path(server_id).unlink()


def _read(path: Path) -> ServerRecord | None:
    try:
        return ServerRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def record_is_alive(record: ServerRecord) -> bool:
    """For managed servers: the pid exists and is the same process (create time matches).

    Connected servers have no local process; they count as alive while whoever connected does.
    """
    if record.managed:
        return process_matches(record.pid, record.create_time)
    if record.connected_by_pid is not None:
        return process_matches(record.connected_by_pid, None)
    return True


def owner_is_alive(record: ServerRecord) -> bool:
    """True when the process that launched the server still runs (False for connected ones)."""
    return process_matches(record.owner_pid, None)


def list_records(prune: bool = True) -> list[ServerRecord]:
    """All records, oldest first; with ``prune``, records of dead servers are deleted."""
    records = []
    for path in sorted(registry_dir().glob("*.json")):
        record = _read(path)
        if record is None:
            continue
        if prune and not record_is_alive(record):
            remove_record(record.id)
            if not owner_is_alive(record):
                remove_log_files(record)
            continue
        records.append(record)
    return sorted(records, key=lambda r: r.started_at)


def find_record(name_or_id: str) -> ServerRecord | None:
    """A live record by exact id, exact name, or unique id prefix; None if there is none."""
    records = list_records()
    for record in records:
        if record.id == name_or_id:
            return record
    for record in records:
        if record.name == name_or_id:
            return record
    prefixed = [r for r in records if r.id.startswith(name_or_id)] if name_or_id else []
    return prefixed[0] if len(prefixed) == 1 else None


def stop_record(record: ServerRecord, timeout: float = 10.0, by: str | None = None) -> bool:
    """Terminate a managed server's whole tree and drop its record.

    Returns False (and signals nothing) when the pid is gone or belongs to another process now.
    Connected servers are only forgotten (their record removed); True is returned.
    ``by`` says who stopped it ("JupyterLab", "the sgl-notebook CLI"); the kernel that launched
    the server reads it back with :func:`stopped_by` to tell its user.
    """
    if not record.managed:
        remove_record(record.id)
        return True
    if record.pid is None or not process_matches(record.pid, record.create_time):
        remove_record(record.id)
        return False
    if by:
        _write_stop_note(record.id, by)
    terminate_tree(record.pid, record.pgid, timeout=timeout)
    remove_record(record.id)
    for worker in list_records(prune=False):  # a router's own workers go with it
        if worker.router_id == record.id and worker.managed:
            stop_record(worker, timeout=timeout, by=by)
    # Stopped from elsewhere (CLI, sidebar): the owner keeps its in-memory tail; the files go,
    # as they do when the owner stops the server itself.
    remove_log_files(record)
    return True


def _write_stop_note(server_id: str, by: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        path = _record_path(server_id).with_suffix(STOP_NOTE_SUFFIX)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"by": by, "at": time.time(), "pid": os.getpid()}, handle)
        _prune_stop_notes()


def _prune_stop_notes() -> None:
    cutoff = time.time() - STOP_NOTE_MAX_AGE_S
    for path in registry_dir().glob("*" + STOP_NOTE_SUFFIX):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def stopped_by(server_id: str) -> dict[str, Any] | None:
    """``{"by": ..., "at": epoch seconds}`` when someone stopped this server through the
    registry (the sidebar, the CLI); None when nobody said so (it exited or was killed)."""
    try:
        path = _record_path(server_id).with_suffix(STOP_NOTE_SUFFIX)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("by"), str) else None


def remove_log_files(record: ServerRecord) -> None:
    """Delete a server's log file and its rotated ``.1`` copy, if any."""
    if not record.log_path:
        return
    for path in (Path(record.log_path), Path(record.log_path + ".1")):
        with contextlib.suppress(OSError):
            path.unlink()


def kernel_id_from_connection_file(path: str | None) -> str | None:
    """``kernel-<id>.json`` -> ``<id>`` (Jupyter Server names connection files this way).

    Other names (a bare ``KernelManager`` uses a temp file) give the file's stem.
    """
    if not path:
        return None
    name = Path(path).name
    if name.startswith("kernel-") and name.endswith(".json"):
        return name[len("kernel-") : -len(".json")]
    return Path(name).stem or None
