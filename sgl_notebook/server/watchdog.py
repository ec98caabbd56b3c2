"""A tiny per-server watchdog process: when the launching process is gone, end the server.

``atexit`` does not run when a kernel is SIGKILLed, and PR_SET_PDEATHSIG does not reach
grandchildren, so each managed server gets one of these. It runs in its own session (a kernel
interrupt or restart does not hit it), waits on pidfds of the owner and the server (polling where
pidfds are missing), and when the owner ends it terminates the server's whole tree and drops its
registry record and log file. It exits by itself when the server ends.

    python -m sgl_notebook.server.watchdog --owner-pid P --owner-create-time T \
        --pid S --create-time C --pgid G --record-id ID [--log-path L]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

from sgl_notebook.server.proctree import process_matches, terminate_tree

POLL_S = 0.25


def _pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None


def _forget(record_id: str | None, log_path: str | None) -> None:
    if record_id:
        from sgl_notebook.server.registry import remove_record

        remove_record(record_id)
    if log_path:
        with contextlib.suppress(OSError):
            Path(log_path).unlink()


def watch(
    owner_pid: int,
    owner_create_time: float | None,
    pid: int,
    create_time: float | None,
    pgid: int | None,
    record_id: str | None,
    log_path: str | None,
) -> str:
    """Block until the owner or the server ends; returns ``"owner-gone"`` or ``"server-gone"``."""
    fds = [fd for fd in (_pidfd(owner_pid), _pidfd(pid)) if fd is not None]
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    while True:
        owner_alive = process_matches(owner_pid, owner_create_time)
        if not process_matches(pid, create_time):
            # The server ended on its own (or by SIGPIPE once its owner's pipes closed):
            # leave nothing of its group behind, and tidy up if nobody else will.
            if pgid:
                terminate_tree(pid, pgid, timeout=2.0)
            if not owner_alive:
                _forget(record_id, log_path)
            return "server-gone"
        if not owner_alive:
            terminate_tree(pid, pgid, timeout=5.0)
            _forget(record_id, log_path)
            return "owner-gone"
        # pidfds become readable when their process exits; the timeout is the fallback
        poller.poll(int(POLL_S * 1000) if not fds else 1000)


def spawn_watchdog(
    *,
    pid: int,
    create_time: float | None,
    pgid: int | None,
    record_id: str,
    log_path: str | None,
    python: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start the watchdog for a server owned by this process."""
    from sgl_notebook.server.proctree import pid_create_time

    argv = [
        python or sys.executable, "-m", "sgl_notebook.server.watchdog",
        "--owner-pid", str(os.getpid()),
        "--owner-create-time", repr(pid_create_time(os.getpid())),
        "--pid", str(pid),
        "--create-time", repr(create_time),
        "--pgid", str(pgid or 0),
        "--record-id", record_id,
    ]
    if log_path:
        argv += ["--log-path", log_path]
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def _float_or_none(text: str) -> float | None:
    return None if text in ("None", "") else float(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgl_notebook.server.watchdog")
    parser.add_argument("--owner-pid", type=int, required=True)
    parser.add_argument("--owner-create-time", type=_float_or_none, default=None)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--create-time", type=_float_or_none, default=None)
    parser.add_argument("--pgid", type=int, default=0)
    parser.add_argument("--record-id", default=None)
    parser.add_argument("--log-path", default=None)
    args = parser.parse_args(argv)
    # The owner's terminal signals must not end the watchdog before it has done its job.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watch(args.owner_pid, args.owner_create_time, args.pid, args.create_time,
          args.pgid or None, args.record_id, args.log_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
