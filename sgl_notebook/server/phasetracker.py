"""Launch phases as they happen: callbacks, a blocking iterator, and the ready/failed flags."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from sgl_notebook.protocol.phases import PHASE_ORDER, LaunchPhase, PhaseEvent, parse_phase_line

__all__ = ["PhaseTracker"]

PhaseCallback = Callable[[PhaseEvent], None]


class PhaseTracker:
    """Log lines -> :class:`PhaseEvent` s that only move forward (FAILED may come any time)."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.events: list[PhaseEvent] = []
        self._callbacks: list[PhaseCallback] = []
        self.changed = threading.Condition()
        self.ready = threading.Event()
        self.failed = threading.Event()

    @property
    def current(self) -> PhaseEvent | None:
        with self.changed:
            return self.events[-1] if self.events else None

    def on_phase(self, callback: PhaseCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every later event (and once now for each past one)."""
        with self.changed:
            past = list(self.events)
            self._callbacks.append(callback)
        for event in past:
            with contextlib.suppress(Exception):
                callback(event)

        def remove() -> None:
            with self.changed, contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return remove

    def feed_line(self, line: str) -> None:
        """Parse one log line (ignored once the launch is settled)."""
        if self.ready.is_set() or self.failed.is_set():
            return
        event = parse_phase_line(line, self.dialect)
        if event is not None:
            self.emit(event)

    def emit(self, event: PhaseEvent) -> None:
        with self.changed:
            if self.ready.is_set() or self.failed.is_set():
                return
            last = self.events[-1] if self.events else None
            if (
                event.phase is not LaunchPhase.FAILED
                and last is not None
                and PHASE_ORDER[event.phase] < PHASE_ORDER[last.phase]
            ):
                return  # a late line of an earlier phase: keep the display moving forward
            if last is not None and (last.phase, last.message, last.progress) == (
                event.phase, event.message, event.progress
            ):
                return  # the same news twice (e.g. two uvicorn start lines)
            self.events.append(event)
            if event.phase is LaunchPhase.READY:
                self.ready.set()
            elif event.phase is LaunchPhase.FAILED:
                self.failed.set()
            callbacks = list(self._callbacks)
            self.changed.notify_all()
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback(event)

    def wait_changed(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    def iter_phases(self, timeout: float | None = None) -> Iterator[PhaseEvent]:
        """Yield every event, past and future, until READY or FAILED (or ``timeout`` s of quiet)."""
        index = 0
        while True:
            with self.changed:
                if index >= len(self.events):
                    if self.ready.is_set() or self.failed.is_set():
                        return
                    if not self.changed.wait(timeout) and timeout is not None:
                        return
                    continue
                event = self.events[index]
            index += 1
            yield event
            if event.phase in (LaunchPhase.READY, LaunchPhase.FAILED):
                return
