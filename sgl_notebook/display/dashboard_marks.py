"""What the dashboard draws besides its lines: scheduler-event markers, the speculative-decoding
panel when a server reports accept lengths, and markers on series too short for a line.

Event markers are vertical lines through every panel at the time of a retraction, prefill OOM,
scheduler crash, graceful shutdown, warm-up or ready (``stats.events()``), one colour per kind,
drawn like the data lines (animated, blitted), from a fixed pool per panel so a frame never
creates artists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

__all__ = ["EVENT_COLORS", "SPEC_PANELS", "EventMarks", "mark_short_series", "MAX_MARKS"]

EVENT_COLORS = {
    "retraction": "#d62728",
    "prefill_oom": "#9467bd",
    "scheduler_crash": "#000000",
    "shutdown": "#8c564b",
    "warmup": "#bcbd22",
    "ready": "#2ca02c",
}
# (title, y label, [(field, line style, label)], scale): shown when a server reports it
SPEC_PANELS = (
    (
        "Speculative decoding",
        "accepted tokens / step",
        (("accept_len", "-", "accept length"),),
        1.0,
    ),
)
MAX_MARKS = 24  # markers per panel; older events fall out of the window first
_EPOCH = datetime(1970, 1, 1)


def mark_short_series(line: Any, points: int, always: bool = False) -> None:
    """Draw a marker on each point of a series with one or two points (a line needs two)."""
    wanted = "." if always or 0 < points <= 2 else "None"
    if line.get_marker() != wanted:
        line.set_marker(wanted)


class EventMarks:
    """A pool of vertical lines per axes, placed at the events inside the window."""

    def __init__(self, axes: Sequence[Any], window: float) -> None:
        self.window = window
        self.pools: list[list[Any]] = []
        for ax in axes:
            pool = []
            for _ in range(MAX_MARKS):
                line = ax.axvline(0.0, linewidth=1.0, linestyle=":", alpha=0.8, animated=True)
                line.set_visible(False)
                pool.append(line)
            self.pools.append(pool)
        self.shown: list[tuple[str, float]] = []  # (kind, x) of the markers drawn last frame

    def caption(self) -> str:
        """What this frame's dotted lines are, for the title (``"  ·  dotted: retraction ×2"``)."""
        if not self.shown:
            return ""
        counts: dict[str, int] = {}
        for kind, _ in self.shown:
            counts[kind] = counts.get(kind, 0) + 1
        parts = [kind if n == 1 else f"{kind} ×{n}" for kind, n in counts.items()]
        return "   ·   dotted: " + ", ".join(parts)

    def update(self, events: Sequence[Any], newest: float | None) -> None:
        """Place markers for ``events`` (``.kind``, ``.time``) within the window."""
        marks: list[tuple[str, float]] = []
        if newest is not None:
            for event in events:
                if event.time is None:
                    continue
                x = (event.time - _EPOCH).total_seconds() - newest
                if -self.window <= x <= self.window * 0.02:
                    marks.append((event.kind, x))
        marks = marks[-MAX_MARKS:]
        self.shown = marks
        for pool in self.pools:
            for index, line in enumerate(pool):
                if index < len(marks):
                    kind, x = marks[index]
                    line.set_xdata([x, x])
                    line.set_color(EVENT_COLORS.get(kind, "#888888"))
                    line.set_visible(True)
                else:
                    line.set_visible(False)
