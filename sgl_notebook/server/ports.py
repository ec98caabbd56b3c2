"""Free ports, found without holding a socket (the server binds it; a clash is retried).

sglang.utils keeps a bound "lock" socket on the very port the server must bind; instead we probe
the port, hand it out once per process, skip ports the registry knows, and retry the launch on
"address already in use".
"""

from __future__ import annotations

import random
import socket
import threading
import time

__all__ = ["find_free_port", "port_is_free"]

_lock = threading.Lock()
_handed_out: dict[int, float] = {}  # port -> when we handed it out
_HOLD_S = 120.0  # a port handed out this recently is not handed out again


def port_is_free(host: str, port: int) -> bool:
    """True when a server could bind ``host:port`` now (same SO_REUSEADDR as uvicorn)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(
    host: str = "127.0.0.1",
    port_range: tuple[int, int] = (30000, 40000),
    exclude: set[int] | frozenset[int] = frozenset(),
) -> int:
    """A port in ``[start, end)`` that is free now and not handed out recently by this process."""
    start, end = port_range
    candidates = list(range(start, end))
    random.shuffle(candidates)
    now = time.monotonic()
    with _lock:
        for port, when in list(_handed_out.items()):
            if now - when > _HOLD_S:
                del _handed_out[port]
        for port in candidates:
            if port in exclude or port in _handed_out:
                continue
            if port_is_free(host, port):
                _handed_out[port] = now
                return port
    raise OSError(f"no free port on {host} in {start}-{end}")
