"""The servers this process launched or connected to and has not stopped (``servers()``).

``Server.start()`` and ``connect()`` add a server here, ``Server.stop()`` takes it out; at a
normal interpreter exit every server still here is stopped (the watchdogs cover crashes and
SIGKILL).
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sgl_notebook.server.server import Server

__all__ = ["remember", "forget", "servers"]

_lock = threading.Lock()
_servers: list[Server] = []


def remember(server: Server) -> None:
    """Add ``server`` (once) to the live list."""
    with _lock:
        if server not in _servers:
            _servers.append(server)


def forget(server: Server) -> None:
    """Take ``server`` out of the live list (nothing happens if it is not there)."""
    with _lock, contextlib.suppress(ValueError):
        _servers.remove(server)


def servers() -> list[Server]:
    """The servers this process launched or connected to and has not stopped."""
    with _lock:
        return list(_servers)


@atexit.register
def _stop_all_at_exit() -> None:
    # the watchdogs cover crashes and SIGKILL; this is the quick path for a normal exit
    for server in servers():
        with contextlib.suppress(Exception):
            server.stop(timeout=5.0)
