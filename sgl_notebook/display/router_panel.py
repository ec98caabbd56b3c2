"""A router's dashboard: its workers overlaid (one colour each, the usual stats dashboard) and a
panel of the router's own view: how many requests it sent to each worker, over time, and which
workers it counts healthy (from its ``smg_*`` Prometheus metrics).

The panel is a PNG with its own ``display_id``, redrawn from a daemon thread only when a scrape
brought news, like the stats dashboard.
"""

from __future__ import annotations

import base64
import io
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = ["RouterPanel", "RouterDashboard", "router_dashboard", "split_title"]

_TEXT = "#888888"


def split_title(
    names: Sequence[str], counts: Sequence[float], healthy: Sequence[bool | None]
) -> str:
    """The panel's headline.

    >>> split_title(["w1", "w2"], [3, 1], [True, False])
    'requests per worker: w1 3 (75%), w2 1 (25%, unhealthy)'
    """
    total = sum(counts) or 1.0
    parts = []
    for name, count, ok in zip(names, counts, healthy, strict=True):
        note = ", unhealthy" if ok is False else ""
        parts.append(f"{name} {count:.0f} ({100 * count / total:.0f}%{note})")
    return "requests per worker: " + ", ".join(parts)


class RouterPanel:
    """The router's request split per worker (bars) and its history (lines), as a PNG."""

    def __init__(self, router: Any, dpi: int = 80) -> None:
        self.router = router
        self.dpi = dpi
        self.display_id = f"sgl-router-panel-{uuid.uuid4().hex[:12]}"
        self.frames = 0
        self.last_png: bytes | None = None
        self.last_metadata: dict[str, Any] = {}

    def _series(self) -> tuple[list[str], list[float], list[bool | None], dict[str, list[Any]]]:
        names = [w.name for w in self.router.workers]
        urls = [w.url.rstrip("/") for w in self.router.workers]
        points = self.router.router_stats.points()
        latest = points[-1] if points else None
        counts = [latest.requests_per_worker.get(u, 0.0) if latest else 0.0 for u in urls]
        healthy = [latest.healthy.get(u) if latest else None for u in urls]
        start = points[0].when if points else 0.0
        history = {name: [(p.when - start, p.requests_per_worker.get(url, 0.0)) for p in points]
                   for name, url in zip(names, urls, strict=True)}
        return names, counts, healthy, history

    def render(self) -> bytes:
        """Draw one frame from the scrapes so far; returns PNG bytes."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from sgl_notebook.display.dashboard_figure import _COLORS

        names, counts, healthy, history = self._series()
        figure = Figure(figsize=(10, 2.6), dpi=self.dpi)
        FigureCanvasAgg(figure)
        figure.patch.set_alpha(0.0)
        bars, lines = figure.subplots(1, 2)
        colours = [_COLORS[i % len(_COLORS)] for i in range(len(names))]
        drawn = bars.barh(names, counts, color=colours)
        for bar, ok in zip(drawn, healthy, strict=True):
            if ok is False:
                bar.set_hatch("//")
                bar.set_alpha(0.4)
        bars.invert_yaxis()
        bars.set_title("Router: requests per worker", color=_TEXT, fontsize=10)
        lines.set_title("Requests routed, cumulative", color=_TEXT, fontsize=10)
        for (name, points), colour in zip(history.items(), colours, strict=True):
            lines.plot([x for x, _ in points], [y for _, y in points], color=colour, label=name)
        lines.set_xlabel("seconds since the first scrape", color=_TEXT, fontsize=9)
        if names:
            lines.legend(loc="upper left", fontsize=7, frameon=False, labelcolor=_TEXT)
        for ax in (bars, lines):
            ax.set_facecolor("none")
            ax.tick_params(colors=_TEXT, labelsize=8)
            for spine in ax.spines.values():
                spine.set_color(_TEXT)
        figure.suptitle(split_title(names, counts, healthy), color=_TEXT, fontsize=9)
        figure.set_layout_engine("constrained")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", transparent=True)
        self.last_png = buffer.getvalue()
        self.frames += 1
        self.last_metadata = {"sgl_notebook": {
            "workers": names, "requests": counts, "healthy": healthy, "frame": self.frames,
        }}
        return self.last_png

    def bundle(self) -> dict[str, str]:
        assert self.last_png is not None
        names, counts, healthy, _ = self._series()
        return {"image/png": base64.b64encode(self.last_png).decode("ascii"),
                "text/plain": split_title(names, counts, healthy)}


class RouterDashboard:
    """The workers' stats dashboard and the router panel, live together; ``stop()`` both."""

    def __init__(self, router: Any, workers_board: Any, panel: RouterPanel,
                 interval: float) -> None:
        self.router, self.workers_board, self.panel = router, workers_board, panel
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RouterDashboard:
        from IPython.display import display

        self.router.router_stats.scrape()
        self.panel.render()
        display(self.panel.bundle(), raw=True, metadata=self.panel.last_metadata,  # type: ignore[no-untyped-call]
                display_id=self.panel.display_id)
        self._thread = threading.Thread(target=self._run, name="sgl-router-panel", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        from IPython.display import update_display

        seen = self.router.router_stats.version
        while not self._stop.wait(self.interval):
            if not self.router.is_alive():
                break
            snap = self.router.router_stats.scrape()
            if snap is None or self.router.router_stats.version == seen:
                continue
            seen = self.router.router_stats.version
            self.panel.render()
            update_display(self.panel.bundle(), raw=True,  # type: ignore[no-untyped-call]
                           metadata=self.panel.last_metadata, display_id=self.panel.display_id)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.workers_board.stop(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        done = self.workers_board.wait(timeout)
        if self._thread is not None:
            self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return bool(done)

    def __repr__(self) -> str:
        return f"<RouterDashboard {self.router.name}: {len(self.router.workers)} workers>"


def router_dashboard(router: Any, interval: float = 1.0, **options: Any) -> RouterDashboard:
    """Show ``router``'s workers overlaid and its request split; returns the live pair."""
    from sgl_notebook.display.dashboard import dashboard

    board = dashboard(*router.workers, interval=interval, **options)
    return RouterDashboard(router, board, RouterPanel(router), max(1.0, interval)).start()
