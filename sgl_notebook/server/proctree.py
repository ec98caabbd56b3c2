"""Ending a process tree: terminate, wait, then kill -- children and the process group included.

Servers start in their own session, so their process group id is their pid; signalling the group
also reaches grandchildren that were re-parented to init after their parent died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

__all__ = ["terminate_tree", "tree_processes", "process_matches", "pid_create_time"]


def pid_create_time(pid: int) -> float | None:
    """psutil's create time of ``pid``, or None if there is no such (live) process."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def process_matches(pid: int | None, create_time: float | None) -> bool:
    """True when ``pid`` is alive and is the same process (same create time), not a reused pid."""
    if pid is None:
        return False
    actual = pid_create_time(pid)
    if actual is None:
        return False
    return create_time is None or abs(actual - create_time) < 0.05


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError, OSError):
            continue
    return members


def tree_processes(pid: int, pgid: int | None = None) -> list[psutil.Process]:
    """The live processes of a server: the root, its descendants and its process group."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(pid)
        found[root.pid] = root
        for child in root.children(recursive=True):
            found[child.pid] = child
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    if pgid is not None and pgid > 1 and pgid != os.getpgrp():
        for member in _group_members(pgid):
            found.setdefault(member.pid, member)
    found.pop(os.getpid(), None)  # never ourselves
    return list(found.values())


def _signal_all(processes: list[psutil.Process], pgid: int | None, sig: signal.Signals) -> None:
    if pgid is not None and pgid > 1 and pgid != os.getpgrp():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
            process.send_signal(sig)


def terminate_tree(pid: int, pgid: int | None = None, timeout: float = 10.0) -> list[int]:
    """SIGTERM the whole tree, wait up to ``timeout`` s, SIGKILL what is left, wait again.

    Returns the pids that had to be killed. Safe to call on a tree that is already gone.
    """
    processes = tree_processes(pid, pgid)
    if not processes:
        return []
    _signal_all(processes, pgid, signal.SIGTERM)
    alive = _wait_gone(processes, timeout)
    # Children may have been forked while we waited; look again before the hard kill.
    leftovers = {p.pid: p for p in alive}
    for process in tree_processes(pid, pgid):
        leftovers.setdefault(process.pid, process)
    if not leftovers:
        return []
    _signal_all(list(leftovers.values()), pgid, signal.SIGKILL)
    _wait_gone(list(leftovers.values()), 5.0)
    _wait_group_empty(pgid, deadline=time.monotonic() + 2.0)
    return sorted(leftovers)


def _running(process: psutil.Process) -> bool:
    try:
        if process.ppid() == os.getpid():
            # our own child: reap it (psutil's wait uses waitpid for children)
            with contextlib.suppress(psutil.TimeoutExpired):
                process.wait(timeout=0)
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ChildProcessError):
        return False


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until each process has exited; an exited-but-unreaped one (zombie) counts as gone.

    psutil.wait_procs would wait the whole timeout for zombies whose parent is not us.
    """
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _running(p)]
    return alive


def _wait_group_empty(pgid: int | None, deadline: float) -> None:
    if pgid is None or pgid <= 1:
        return
    while time.monotonic() < deadline and _group_members(pgid):
        time.sleep(0.05)
