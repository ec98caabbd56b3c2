"""ServerProcess.is_alive tells the truth while another thread reaps the same process."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sgl_notebook.server.launcher import ServerProcess
from tests.fixtures.waits import eventually


def _zombie_of(popen: subprocess.Popen[str]) -> bool:
    import psutil

    return psutil.Process(popen.pid).status() == psutil.STATUS_ZOMBIE


def test_a_killed_server_is_not_alive_while_another_thread_reaps_it() -> None:
    popen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], text=True)
    unused: Any = None  # is_alive looks at the process only
    process = ServerProcess(unused, "", [], popen, unused, unused, unused)
    try:
        assert process.is_alive()
        popen.kill()
        assert eventually(lambda: _zombie_of(popen), 10.0)
        # the router group's worker watcher polls the same Popen: while it holds the lock that
        # reaping takes, Popen.poll() answers None without looking
        with popen._waitpid_lock:  # type: ignore[attr-defined]
            assert popen.poll() is None
            assert not process.is_alive()
        assert not process.is_alive()  # the lock is free again: the exit code is known
        assert popen.returncode == -9
    finally:
        popen.kill()
        popen.wait()
