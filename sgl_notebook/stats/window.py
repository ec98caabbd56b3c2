"""A sliding window over a :class:`ServerStats`, read incrementally: what a live plot draws.

Each field (``gen_throughput``, ``running_req``, ...) becomes parallel lists of x (seconds since
1970, from the server's naive timestamps) and y values; :meth:`SeriesWindow.read` appends only the
points that arrived since the last read (via :meth:`ServerStats.since`) and drops those older
than the window, so a redraw costs the window, not the whole history.

>>> from sgl_notebook.stats import ServerStats
>>> stats = ServerStats()
>>> _ = stats.feed("[2025-07-28 04:59:51] Decode batch. #running-req: 3, #token: 64, "
...                "token usage: 0.01, cuda graph: False, gen throughput (token/s): 5.96, "
...                "#queue-req: 1, ")
>>> window = SeriesWindow(["gen_throughput", "running_req"], seconds=60)
>>> window.read(stats), window.ys["running_req"]
(True, [3.0])
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime

from sgl_notebook.stats.series import ServerStats, StatsPoint

__all__ = ["SeriesWindow", "summary_line"]

_EPOCH = datetime(1970, 1, 1)


class SeriesWindow:
    """The last ``seconds`` of some fields of one series, as x / y lists per field."""

    def __init__(self, fields: Iterable[str], seconds: float) -> None:
        self.fields = tuple(fields)
        self.seconds = seconds
        self.version = 0
        self.xs: dict[str, list[float]] = {name: [] for name in self.fields}
        self.ys: dict[str, list[float]] = {name: [] for name in self.fields}

    def read(self, stats: ServerStats) -> bool:
        """Append the points newer than the last read; True if any arrived."""
        self.version, points = stats.since(self.version)
        for point in points:
            self._add(point)
        self._trim()
        return bool(points)

    def _add(self, point: StatsPoint) -> None:
        if point.time is None:
            return
        x = (point.time - _EPOCH).total_seconds()
        for name in self.fields:
            value = getattr(point, name)
            if value is not None:
                self.xs[name].append(x)
                self.ys[name].append(float(value))

    def _trim(self) -> None:
        newest = self.newest()
        if newest is None:
            return
        for name, xs in self.xs.items():
            if xs and xs[0] < newest - 2 * self.seconds:  # lazily: keep up to two windows
                keep = bisect.bisect_left(xs, newest - self.seconds)
                del xs[:keep]
                del self.ys[name][:keep]

    def newest(self) -> float | None:
        """The x of the newest value of any field, or None while empty."""
        return max((xs[-1] for xs in self.xs.values() if xs), default=None)

    def visible(self, name: str, newest: float) -> tuple[list[float], list[float]]:
        """``name``'s points within the window ending at ``newest``, x relative to it (<= 0)."""
        xs, ys = self.xs[name], self.ys[name]
        start = bisect.bisect_left(xs, newest - self.seconds)
        return [x - newest for x in xs[start:]], ys[start:]

    def has(self, names: Iterable[str]) -> bool:
        """True if any of ``names`` has a value in the window."""
        return any(self.xs.get(name) for name in names)


def summary_line(name: str, stats: ServerStats) -> str:
    """``"alpha · 41.2 token/s · 3 running, 1 queued · KV 12%"`` from ``stats.latest()``."""
    latest = stats.latest()
    parts = [name]
    if latest["gen_throughput"] is not None:
        parts.append(f"{latest['gen_throughput']:.1f} token/s")
    if latest["running_req"] is not None:
        parts.append(f"{latest['running_req']} running, {latest['queue_req'] or 0} queued")
    if latest["token_usage"] is not None:
        parts.append(f"KV {100 * latest['token_usage']:.0f}%")
    return " · ".join(parts)
