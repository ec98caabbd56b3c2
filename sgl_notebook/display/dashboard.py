"""A live stats dashboard: throughput, requests, KV usage and prefix-cache hits, as a PNG.

``dashboard(server)`` (or ``server.dashboard()``, ``%sgl stats``) displays one PNG with a
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

import io
import threading
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sgl_notebook.display.dashboard_marks import SPEC_PANELS, EventMarks, mark_short_series
from sgl_notebook.stats import MetricsScraper, ServerStats
from sgl_notebook.stats.window import SeriesWindow, summary_line

if TYPE_CHECKING:
    from sgl_notebook.server.protocols import NotebookServer

__all__ = ["Dashboard", "dashboard", "PANELS", "METRICS_PANELS"]

# (title, y label, [(field, line style, label)], scale applied to values)
_Panel = tuple[str, str, tuple[tuple[str, str, str], ...], float]
PANELS: tuple[_Panel, ...] = (
    ("Generation throughput", "token/s", (("gen_throughput", "-", "generation"),), 1.0),
    ("Requests", "requests", (("running_req", "-", "running"), ("queue_req", "--", "queued")), 1.0),
    ("KV cache usage", "% of KV tokens", (("token_usage", "-", "used"),), 100.0),
    ("Prefix cache hit rate", "% of prompt tokens", (("cache_hit_rate", "-", "hit rate"),), 100.0),
)
METRICS_PANELS: tuple[_Panel, ...] = (
    ("Time to first token", "seconds", (("ttft_p50", "-", "p50"), ("ttft_p90", "--", "p90")), 1.0),
    (
        "Inter-token latency",
        "milliseconds",
        (("itl_p50", "-", "p50"), ("itl_p90", "--", "p90")),
        1000.0,
    ),
)
_FIELDS = tuple(f for panel in PANELS + METRICS_PANELS + SPEC_PANELS for f, _, _ in panel[2])
_METRICS_FIELDS = tuple(f for panel in METRICS_PANELS for f, _, _ in panel[2])
_SPEC_FIELDS = tuple(f for panel in SPEC_PANELS for f, _, _ in panel[2])
_TEXT = "#888888"  # mid-grey reads on white and on JupyterLab's dark theme
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def _nice_ceiling(value: float) -> float:
    """The next 1-2-5 step above ``value``, so a y-axis top changes rarely."""
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1.0, 2.0, 5.0, 10.0):
        if step * factor >= value:
            return step * factor
    return step * 10


class _Figure:
    """A private Agg figure, drawn once as a background; frames only redraw lines (blitting).

    The x axis is "seconds before the newest point" with fixed limits, and y tops move in 1-2-5
    steps, so ticks, labels and legends are re-rendered only when a y scale changes.
    """

    def __init__(
        self,
        names: Sequence[str],
        with_metrics: bool,
        window: float,
        dpi: int = 80,
        with_spec: bool = False,
    ) -> None:
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError(
                "the stats dashboard draws with matplotlib: pip install matplotlib "
                "(or pip install 'sgl-notebook[notebook]')"
            ) from error

        self.panels = (
            PANELS + (METRICS_PANELS if with_metrics else ()) + (SPEC_PANELS if with_spec else ())
        )
        self.window = window
        rows = (len(self.panels) + 1) // 2
        self.figure = Figure(figsize=(10, 2.6 * rows + 0.6), dpi=dpi)
        self.canvas: Any = FigureCanvasAgg(self.figure)  # Any: its blitting API is untyped
        self.figure.patch.set_alpha(0.0)
        axes = self.figure.subplots(rows, 2, sharex=True, squeeze=False).ravel()
        self.axes = list(axes[: len(self.panels)])
        for extra in axes[len(self.panels) :]:
            extra.set_visible(False)
        self.lines: dict[tuple[int, str], Any] = {}
        for ax, (title, ylabel, series, scale) in zip(self.axes, self.panels, strict=True):
            ax.set_facecolor("none")
            ax.set_title(title, color=_TEXT, fontsize=10)
            ax.set_ylabel(ylabel, color=_TEXT, fontsize=9)
            ax.tick_params(colors=_TEXT, labelsize=8)
            for spine in ax.spines.values():
                spine.set_color(_TEXT)
            ax.grid(True, color=_TEXT, alpha=0.25, linewidth=0.5)
            ax.set_xlim(-window, window * 0.02)
            ax.set_ylim(0.0, 100.0 if scale == 100.0 else 1.0)
            for index, name in enumerate(names):
                color = _COLORS[index % len(_COLORS)]
                for field_name, style, label in series:
                    (line,) = ax.plot(
                        [],
                        [],
                        style,
                        color=color,
                        marker=None,
                        linewidth=1.4,
                        markersize=4,
                        label=f"{name} {label}",
                        animated=True,
                    )
                    self.lines[(index, field_name)] = line
            if len(series) > 1 or len(names) > 1:
                legend = ax.legend(loc="upper left", fontsize=7, frameon=False)
                for text in legend.get_texts():
                    text.set_color(_TEXT)
        for ax in self.axes[-2:]:  # with an odd count, one sits above the empty slot
            ax.set_xlabel("seconds before the newest point", color=_TEXT, fontsize=9)
            ax.tick_params(labelbottom=True)
        self.marks = EventMarks(self.axes, window)  # scheduler events, after the legends
        # The summary line changes every frame, so it is drawn over the background like the
        # lines; the layout leaves it a strip at the top.
        height = self.figure.get_figheight()
        self.title = self.figure.text(
            0.5,
            1 - 0.08 / height,
            "",
            ha="center",
            va="top",
            color=_TEXT,
            fontsize=10,
            animated=True,
        )
        self.figure.set_layout_engine("constrained", rect=(0, 0, 1, 1 - 0.35 / height))
        self._background: Any = None

    @property
    def titles(self) -> list[str]:
        return [panel[0] for panel in self.panels]

    def draw(self, series: Sequence[SeriesWindow], title: str, events: Sequence[Any] = ()) -> bytes:
        """Draw one frame (``events``: scheduler events to mark); returns PNG bytes."""
        from PIL import Image

        newest = max((n for n in (s.newest() for s in series) if n is not None), default=None)
        for ax, (_, _, fields, scale) in zip(self.axes, self.panels, strict=True):
            top = 0.0
            for index, one in enumerate(series):
                for name, _, _ in fields:
                    shown_x, ys = one.visible(name, newest) if newest is not None else ([], [])
                    shown_y = [y * scale for y in ys]
                    line = self.lines[(index, name)]
                    line.set_data(shown_x, shown_y)
                    mark_short_series(line, len(shown_x), always=name == "cache_hit_rate")
                    top = max(top, max(shown_y, default=0.0))
            if scale != 100.0:
                wanted = _nice_ceiling(max(1.0, top * 1.05))
                if ax.get_ylim()[1] != wanted:
                    ax.set_ylim(0.0, wanted)
                    self._background = None
        self.marks.update(events, newest)
        self.title.set_text(title + self.marks.caption())
        if self._background is None:
            self.canvas.draw()  # everything but the animated lines and title
            self.figure.set_layout_engine("none")  # keep the first layout: it costs a frame
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self._background)
        for ax in self.axes:
            for line in ax.get_lines():
                ax.draw_artist(line)
        self.figure.draw_artist(self.title)
        width, height = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw")
        buffer = io.BytesIO()
        # Low zlib effort: several times cheaper than the default for a slightly larger file.
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    @property
    def size(self) -> tuple[int, int]:
        width, height = self.canvas.get_width_height()
        return int(width), int(height)


def _grows(figure: _Figure, with_metrics: bool, with_spec: bool) -> bool:
    """True when a panel group appeared that the figure lacks (latency, speculative)."""
    titles = figure.titles
    return (with_metrics and METRICS_PANELS[0][0] not in titles) or (
        with_spec and SPEC_PANELS[0][0] not in titles
    )


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
        self._figure: _Figure | None = None
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
        if self._figure is None or _grows(self._figure, with_metrics, with_spec):
            self._figure = _Figure(self.names, with_metrics, self.window, self.dpi, with_spec)
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
        average = 0.0  # CPU seconds per frame, a moving average
        next_draw = time.monotonic() + self.interval  # show() just drew the first frame
        try:
            while not self._stop.is_set():
                alive = self._alive()
                if alive:
                    self.scrape()
                    for server in self.servers:  # what runs now: at most 1/s, only while shown
                        server.stats.refresh()
                now = time.monotonic()
                if self._changed() and (now >= next_draw or not alive):
                    cpu = time.thread_time()
                    with self._lock:
                        self._render_locked()
                        self._publish()
                    average = 0.8 * average + 0.2 * (time.thread_time() - cpu)
                    # Keep the kernel's CPU for the person: drawing may use about max_cpu of a
                    # core; frames that cost more (a slow machine) come less often.
                    next_draw = time.monotonic() + max(self.interval, average / self.max_cpu)
                if not alive:
                    break
                self._stop.wait(max(0.05, min(self.interval, next_draw - time.monotonic())))
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
