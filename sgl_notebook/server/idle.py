"""Idle shutdown: call ``on_idle`` after ``timeout`` seconds without requests.

Activity is whatever calls :meth:`IdleMonitor.touch`: requests made through a ``Server`` and
request access lines in its log (health probes and metrics scrapes do not count).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

__all__ = ["IdleMonitor", "is_request_access_line"]

# uvicorn access line: ``127.0.0.1:51234 - "POST /generate HTTP/1.1" 200 OK``
_ACCESS = re.compile(r'"(?:GET|POST|PUT|DELETE) (?P<path>/[^\s"?]*)[^"]*HTTP/[\d.]+"')
# Probes and what the toolkit polls (the load report while a view is shown): not requests.
_NOT_REQUESTS = ("/health", "/metrics", "/get_model_info", "/model_info", "/get_server_info",
                 "/server_info", "/v1/models", "/ping", "/version", "/ready", "/get_load",
                 "/v1/loads")


def is_request_access_line(line: str) -> bool:
    """True for an access line of a real request (not a probe).

    >>> is_request_access_line('INFO:     127.0.0.1:5 - "POST /generate HTTP/1.1" 200 OK')
    True
    >>> is_request_access_line('INFO:     127.0.0.1:5 - "GET /health HTTP/1.1" 200 OK')
    False
    """
    match = _ACCESS.search(line)
    return match is not None and not match["path"].startswith(_NOT_REQUESTS)


class IdleMonitor:
    """A daemon thread that fires ``on_idle`` once after ``timeout`` s without :meth:`touch`.

    ``clock`` is where the seconds come from (``time.monotonic``; tests pass their own and call
    :meth:`check` instead of starting the thread).
    """

    def __init__(
        self,
        timeout: float,
        on_idle: Callable[[float], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"idle_timeout must be positive, got {timeout}")
        self.timeout = timeout
        self._on_idle = on_idle
        self._clock = clock
        self._last = clock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sgl-notebook-idle")

    def start(self) -> None:
        self._thread.start()

    def touch(self) -> None:
        self._last = self._clock()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    @property
    def idle_for(self) -> float:
        return self._clock() - self._last

    @property
    def last_activity(self) -> float:
        """The clock's reading at the last :meth:`touch` (or at creation)."""
        return self._last

    def check(self) -> float | None:
        """Fire ``on_idle`` (once) if the timeout has passed; else the seconds still to wait.

        None once it has fired or been stopped."""
        if self._stopped.is_set():
            return None
        idle = self.idle_for
        if idle < self.timeout:
            return self.timeout - idle
        self._stopped.set()
        self._on_idle(idle)
        return None

    def _run(self) -> None:
        while (remaining := self.check()) is not None:
            self._wake.wait(remaining)
