"""A live stats dashboard: throughput, requests, KV usage and prefix-cache hits, as a PNG.

``dashboard(server)`` (or ``%sgl stats``) displays one PNG with a
``display_id`` and replaces it from a background thread as new points arrive -- at most once
per ``interval`` seconds and never more often than keeps the redraw under ``max_cpu`` of one
core. Because the output is a plain ``image/png`` updated in place, the last frame is what a
saved notebook (or nbconvert) keeps. The figure is drawn with matplotlib's Agg canvas on a
private ``Figure`` (no pyplot global state), on a transparent background with mid-grey text so
it reads in light and dark themes. Several servers are overlaid, one colour per server.

A server here is a :class:`~sgl_notebook.server.protocols.NotebookServer`, of which the
dashboard reads ``stats`` (a :class:`~sgl_notebook.stats.ServerStats`), ``name``, ``url``,
``api_key`` and ``is_alive()`` (so any object with those is drawn too); when ``url`` serves
``/metrics`` the dashboard scrapes it and adds time-to-first-token and inter-token latency
panels.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sgl_notebook.display.dashboard_figure import (
    METRICS_PANELS,
    PANELS,
    DashboardFigure,
    grows,
)
from sgl_notebook.display.dashboard_marks import SPEC_PANELS
from sgl_notebook.display.frame_pacer import FramePacer
from sgl_notebook.stats import MetricsScraper, ServerStats
from sgl_notebook.stats.window import SeriesWindow, summary_line

if TYPE_CHECKING:
    from sgl_notebook.server.protocols import NotebookServer

__all__ = ["Dashboard", "dashboard", "PANELS", "METRICS_PANELS"]

_FIELDS = tuple(f for panel in PANELS + METRICS_PANELS + SPEC_PANELS for f, _, _ in panel[2])
_METRICS_FIELDS = tuple(f for panel in METRICS_PANELS for f, _, _ in panel[2])
_SPEC_FIELDS = tuple(f for panel in SPEC_PANELS for f, _, _ in panel[2])


class Dashboard:
    """A live PNG of one or more servers' stats, redrawn from a background thread.

    Build it with :func:`dashboard`. ``frames`` counts the images published; ``stop()`` ends
    the thread after a last frame; ``wait()`` blocks until the servers stopped and the final
    frame is out (handy at the end of a notebook).
    """

    def __init__(
        self,
        servers: Sequence[NotebookServer],
        *,
        interval: float = 1.0,
        window: float = 300.0,
        max_cpu: float = 0.05,
        scrape_metrics: bool = True,
        dpi: int = 80,
    ) -> None:
        if not servers:
            raise ValueError("dashboard() needs at least one server, e.g. dashboard(server)")
        for server in servers:
            if not isinstance(getattr(server, "stats", None), ServerStats):
                raise TypeError(
                    f"{server!r} has no .stats (a ServerStats): pass a server from "
                    "sgl_notebook.launch() or connect(), or an object with .stats, .name, .url, "
                    ".api_key and .is_alive()"
                )
        if interval < 1.0:
            raise ValueError(f"interval is the seconds between redraws, at least 1; got {interval}")
        if window <= 0:
            raise ValueError(f"window is the seconds of history shown, above 0; got {window}")
        self.servers = list(servers)
        self.names = [str(s.name) for s in servers]
        self.interval = float(interval)
        self.window = float(window)
        self.max_cpu = max_cpu
        self.dpi = dpi
        self.display_id = f"sgl-dashboard-{uuid.uuid4().hex[:12]}"
        self.frames = 0
        self.published_at: list[float] = []  # monotonic times of the last 100 images shown
        self.last_png: bytes | None = None
        self.last_metadata: dict[str, Any] = {}
        self.error: BaseException | None = None
        self._series = [SeriesWindow(_FIELDS, self.window) for _ in servers]
        self._scrapers = [
            MetricsScraper(s.url, s.api_key) if scrape_metrics and s.url else None
            for s in servers
        ]
        self._figure: DashboardFigure | None = None
        self._lock = threading.Lock()  # one render at a time (thread, stop(), render())
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False
        self._events_drawn = 0

    # -- drawing -------------------------------------------------------------------------------

    def render(self) -> bytes:
        """Read new points and draw one frame; returns the PNG bytes (no display)."""
        with self._lock:
            return self._render_locked()

    def _render_locked(self) -> bytes:
        for one, server in zip(self._series, self.servers, strict=True):
            one.read(server.stats)
        with_metrics = any(one.has(_METRICS_FIELDS) for one in self._series)
        with_spec = any(one.has(_SPEC_FIELDS) for one in self._series)
        if self._figure is None or grows(self._figure, with_metrics, with_spec):
            self._figure = DashboardFigure(
                self.names, with_metrics, self.window, self.dpi, with_spec
            )
        title = "   |   ".join(
            summary_line(name, s.stats) for name, s in zip(self.names, self.servers, strict=True)
        )
        events = [e for s in self.servers for e in s.stats.events()]
        png = self._figure.draw(self._series, title, events)
        width, height = self._figure.size
        self.last_png = png
        self.frames += 1
        self.last_metadata = {
            "image/png": {"width": width, "height": height},
            "sgl_notebook": {
                "panels": self._figure.titles,
                "servers": self.names,
                "frame": self.frames,
                "points": [len(s.stats) for s in self.servers],
            },
        }
        return png

    def _bundle(self) -> tuple[dict[str, Any], dict[str, Any]]:
        import base64

        assert self.last_png is not None
        text = "sgl-notebook dashboard: " + "; ".join(
            summary_line(name, s.stats) for name, s in zip(self.names, self.servers, strict=True)
        )
        data = {"image/png": base64.b64encode(self.last_png).decode("ascii"), "text/plain": text}
        return data, self.last_metadata

    def _publish(self, first: bool = False) -> None:
        from IPython import display as ipython_display

        display: Any = ipython_display.display  # untyped upstream
        update_display: Any = ipython_display.update_display
        data, metadata = self._bundle()
        if first:
            display(data, raw=True, metadata=metadata, display_id=self.display_id)
        else:
            update_display(data, raw=True, metadata=metadata, display_id=self.display_id)
        self.published_at.append(time.monotonic())
        del self.published_at[:-100]

    # -- lifecycle -----------------------------------------------------------------------------

    def show(self) -> Dashboard:
        """Display the first frame and start the live thread (once)."""
        if self._shown:
            return self
        self.render()
        self._publish(first=True)
        self._shown = True
        self._thread = threading.Thread(target=self._run, name="sgl-dashboard", daemon=True)
        self._thread.start()
        return self

    def _ipython_display_(self) -> None:
        self.show()  # a Dashboard left as a cell's value shows itself once, not twice

    def _alive(self) -> bool:
        for server in self.servers:
            try:
                if server.is_alive():
                    return True
            except Exception:  # noqa: BLE001 -- a broken probe counts as "stopped"
                continue
        return False

    def scrape(self) -> None:
        """Scrape each server's ``/metrics`` once into its stats (the live thread does this
        every ``interval``); servers without metrics are asked once, then left alone."""
        for scraper, server in zip(self._scrapers, self.servers, strict=True):
            if scraper is None or scraper.available is False:
                continue
            sample = scraper.scrape()
            values = sample.values() if sample else {}
            if sample and any(v is not None for k, v in values.items() if "_p" in k):
                server.stats.add_metrics(sample)

    def _changed(self) -> bool:
        events = sum(s.stats.latest(refresh=False).get("events") or 0 for s in self.servers)
        if events != self._events_drawn:
            self._events_drawn = events
            return True
        return any(
            s.stats.version != one.version
            for s, one in zip(self.servers, self._series, strict=True)
        )

    def _run(self) -> None:
        pacer = FramePacer(self.interval, self.max_cpu)  # show() just drew the first frame
        try:
            while not self._stop.is_set():
                alive = self._alive()
                if alive:
                    self.scrape()
                    for server in self.servers:  # what runs now: at most 1/s, only while shown
                        server.stats.refresh()
                if self._changed() and (pacer.due() or not alive):
                    cpu = time.thread_time()
                    with self._lock:
                        self._render_locked()
                        self._publish()
                    pacer.drawn(time.thread_time() - cpu)
                if not alive:
                    break
                self._stop.wait(pacer.sleep_for())
        except BaseException as error:  # noqa: BLE001 -- shown by stop()/wait(), not lost
            self.error = error
        finally:
            for scraper in self._scrapers:
                if scraper is not None:
                    scraper.close()
            self._done.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop updating after a last frame; the image stays as it is now."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._shown and self._changed():
            with self._lock:
                self._render_locked()
                self._publish()
        for scraper in self._scrapers:
            if scraper is not None:
                scraper.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the servers stopped and the last frame is published (True), or timeout."""
        if self._thread is None:
            return True
        return self._done.wait(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        state = "live" if self.running else "stopped"
        return f"<Dashboard {', '.join(self.names)}: {state}, {self.frames} frames>"


def dashboard(
    *servers: NotebookServer, interval: float = 1.0, window: float = 300.0, **options: Any
) -> Dashboard:
    """Show a live stats plot of ``servers`` (overlaid) and return its :class:`Dashboard`.

    ``interval``: seconds between redraws (at least 1); ``window``: seconds of history shown.
    Options: ``max_cpu`` (redraw budget, fraction of one core, default 0.05),
    ``scrape_metrics`` (default True), ``dpi``.

    >>> dash = dashboard(server)          # doctest: +SKIP
    >>> dash.stop()                       # doctest: +SKIP  (or it stops with the server)
    """
    board = Dashboard(servers, interval=interval, window=window, **options)
    try:
        from IPython import get_ipython
    except ImportError as error:
        raise ImportError("dashboard() needs IPython: pip install ipython") from error
    if getattr(get_ipython(), "kernel", None) is None:  # no shell, or terminal IPython
        raise RuntimeError(
            "dashboard() draws into a Jupyter notebook and no IPython kernel is running here; "
            "use server.stats.df() for the numbers, or Dashboard(servers).render() for a PNG"
        )
    return board.show()
