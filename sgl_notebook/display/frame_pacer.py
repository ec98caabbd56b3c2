"""When the dashboard may draw its next frame: once per ``interval`` seconds at most, and less
often when drawing costs more than ``max_cpu`` of one core (a slow machine keeps its CPU for the
person at the keyboard)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["FramePacer"]


class FramePacer:
    """Pacing of redraws on ``clock`` (``time.monotonic``; tests pass their own).

    The first frame counts as drawn at creation (``show()`` draws it)."""

    def __init__(
        self, interval: float, max_cpu: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self.max_cpu = max_cpu
        self._clock = clock
        self.cpu_per_frame = 0.0  # CPU seconds per frame, a moving average
        self.next_draw = clock() + interval

    def due(self) -> bool:
        """True when a frame may be drawn now."""
        return self._clock() >= self.next_draw

    def drawn(self, cpu_seconds: float) -> None:
        """A frame was drawn and cost ``cpu_seconds``: the next one waits ``interval``, or longer
        so that drawing stays near ``max_cpu`` of a core."""
        self.cpu_per_frame = 0.8 * self.cpu_per_frame + 0.2 * cpu_seconds
        self.next_draw = self._clock() + max(self.interval, self.cpu_per_frame / self.max_cpu)

    def sleep_for(self) -> float:
        """Seconds to wait before looking again: until the next frame is due, at most
        ``interval`` (the servers are polled that often), at least 0.05."""
        return max(0.05, min(self.interval, self.next_draw - self._clock()))
