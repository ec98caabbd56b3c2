"""The events of a request, read on a thread and handed to the kernel's main thread.

An interrupt (KeyboardInterrupt) then lands in the main thread's wait, not inside the HTTP read:
:func:`pump_events` aborts the request and reads on for the server's last events.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from sgl_notebook.client import StreamEvent

__all__ = ["ABORT_DRAIN_S", "EventPump", "pump_events"]

ABORT_DRAIN_S = 3.0  # how long an interrupted cell waits for the server's last events


class _Failure(NamedTuple):
    error: BaseException


_END = object()


class EventPump:
    """Reads a request's events on a thread and hands them to the kernel's main thread.

    An interrupt then lands in the main thread's wait, not inside the HTTP read: the request is
    aborted and the stream read on to its end, so the result gets SGLang's
    ``finish_reason="abort"`` and the usage (prompt tokens too) the server sends last.
    """

    def __init__(self, produce: Callable[[], Iterator[StreamEvent]]) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name="sgl-cell-stream", daemon=True
        )
        self._thread.start()

    def _run(self, produce: Callable[[], Iterator[StreamEvent]]) -> None:
        try:
            for event in produce():
                self._queue.put(event)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            self._queue.put(_Failure(exc))
        finally:
            self._queue.put(_END)

    def events(self, deadline: float | None = None) -> Iterator[StreamEvent]:
        """Events until the stream ends (or ``deadline``, a ``time.monotonic()`` value, passes)."""
        get = self._queue.get
        while True:
            wait = 0.5 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return
            try:
                item = get(timeout=min(wait, 0.5))  # short waits: an interrupt is seen at once
            except queue.Empty:
                continue
            if item is _END:
                return
            if type(item) is _Failure:
                raise item.error
            yield item


def pump_events(
    events: Iterable[StreamEvent],
    apply: Callable[[StreamEvent], None],
    abort: Callable[[], Any],
) -> bool:
    """Read ``events`` on a thread into ``apply``; True when an interrupt aborted the request
    (``abort()`` called, the server's last events read for up to :data:`ABORT_DRAIN_S`)."""
    pump = EventPump(lambda: iter(events))
    try:
        for event in pump.events():
            apply(event)
    except KeyboardInterrupt:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            abort()
        with contextlib.suppress(Exception, KeyboardInterrupt):
            for event in pump.events(deadline=time.monotonic() + ABORT_DRAIN_S):
                apply(event)
        return True
    return False
