"""The dashboard's figure: its panels, drawn on a private Agg canvas, frames by blitting.

:class:`DashboardFigure` draws one frame of :class:`~sgl_notebook.display.dashboard.Dashboard`
(which reads the servers and publishes the PNG); nothing here knows about servers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from sgl_notebook.display.dashboard_marks import SPEC_PANELS, EventMarks, mark_short_series
from sgl_notebook.stats.window import SeriesWindow

__all__ = ["METRICS_PANELS", "PANELS", "DashboardFigure", "grows"]

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


def _style_axis(ax: Any, panel: _Panel, window: float) -> None:
    """Title, labels, grid and fixed limits in the mid-grey that reads on both themes."""
    title, ylabel, _, scale = panel
    ax.set_facecolor("none")
    ax.set_title(title, color=_TEXT, fontsize=10)
    ax.set_ylabel(ylabel, color=_TEXT, fontsize=9)
    ax.tick_params(colors=_TEXT, labelsize=8)
    for spine in ax.spines.values():
        spine.set_color(_TEXT)
    ax.grid(True, color=_TEXT, alpha=0.25, linewidth=0.5)
    ax.set_xlim(-window, window * 0.02)
    ax.set_ylim(0.0, 100.0 if scale == 100.0 else 1.0)


class DashboardFigure:
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
        for ax, panel in zip(self.axes, self.panels, strict=True):
            _style_axis(ax, panel, window)
            self._add_lines(ax, panel, names)
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

    def _add_lines(self, ax: Any, panel: _Panel, names: Sequence[str]) -> None:
        """One animated line per server and series of ``panel`` (a legend when several)."""
        series = panel[2]
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


def grows(figure: DashboardFigure, with_metrics: bool, with_spec: bool) -> bool:
    """True when a panel group appeared that the figure lacks (latency, speculative)."""
    titles = figure.titles
    return (with_metrics and METRICS_PANELS[0][0] not in titles) or (
        with_spec and SPEC_PANELS[0][0] not in titles
    )


