"""The live view of a benchmark run: a progress line and the server's dashboard, then the result.

:func:`bench` is what ``server.bench(...)`` and ``%sgl bench`` call: in a Jupyter kernel it
shows bench_serving's progress (updated at most once a second, in place) above the server's live
dashboard, stops the dashboard after a last frame when the run ends, and returns the
:class:`~sgl_notebook.stats.bench_result.BenchResult`; elsewhere it runs quietly.
:func:`compare` runs the same load on two servers, one after the other.
"""

from __future__ import annotations

import contextlib
import html
import time
import uuid
from typing import Any

from sgl_notebook.server.bench import BenchOptions, BenchProgress, run_bench
from sgl_notebook.stats.bench_result import BenchComparison, BenchResult

__all__ = ["BenchLiveView", "bench", "compare", "progress_html"]


def progress_html(name: str, progress: BenchProgress) -> str:
    """One line: server, phase, requests done of total, a bar, seconds so far."""
    share = progress.done / progress.total if progress.total else 0.0
    bar = (f'<span style="display:inline-block;width:160px;height:8px;'
           f'background:rgba(128,128,128,.25);vertical-align:middle">'
           f'<span style="display:block;height:8px;width:{160 * share:.0f}px;'
           f'background:#1f77b4"></span></span>')
    return (f'<div class="sgl-bench-progress" style="font-family:monospace;font-size:12px">'
            f"bench_serving → {html.escape(name)} · {html.escape(progress.phase)} · {bar} "
            f"{progress.done}/{progress.total} requests · {progress.elapsed:.0f} s</div>")


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class BenchLiveView:
    """A progress display (one ``display_id``) plus the server's dashboard, while a run lasts."""

    def __init__(self, server: Any, *, dashboard: bool = True, interval: float = 1.0) -> None:
        self.server = server
        self.name = str(getattr(server, "name", "server"))
        self.interval = interval
        self.display_id = f"sgl-bench-{uuid.uuid4().hex[:12]}"
        self.updates = 0
        self._last = 0.0
        self._want_dashboard = dashboard
        self.dashboard: Any = None

    def start(self, progress: BenchProgress) -> None:
        from IPython.display import display

        display(self._bundle(progress), raw=True, display_id=self.display_id)
        if self._want_dashboard and hasattr(self.server, "stats"):
            from sgl_notebook.display.dashboard import dashboard

            with contextlib.suppress(Exception):  # the bench runs without its dashboard
                self.dashboard = dashboard(self.server)

    def _bundle(self, progress: BenchProgress) -> dict[str, str]:
        text = (f"bench_serving -> {self.name}: {progress.phase}, "
                f"{progress.done}/{progress.total} requests, {progress.elapsed:.0f} s")
        return {"text/plain": text, "text/html": progress_html(self.name, progress)}

    def update(self, progress: BenchProgress, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        from IPython.display import update_display

        self._last = now
        self.updates += 1
        update_display(self._bundle(progress), raw=True, display_id=self.display_id)

    def finish(self, progress: BenchProgress) -> None:
        self.update(progress, force=True)
        if self.dashboard is not None:
            with contextlib.suppress(Exception):
                self.dashboard.stop()


def bench(
    server: Any, options: BenchOptions | None = None, *, live: bool | None = None, **kwargs: Any
) -> BenchResult:
    """Run bench_serving against ``server``; in a kernel with a live view (``live=False``: none).
    ``kwargs`` go to :func:`~sgl_notebook.server.bench.run_bench` (``python``, ``timeout``)."""
    options = options or BenchOptions()
    if live is None:
        live = _in_kernel()
    if not live:
        return run_bench(server, options, **kwargs)
    view = BenchLiveView(server)
    progress = BenchProgress(total=options.total_prompts)
    view.start(progress)
    latest = [progress]

    def on_progress(now: BenchProgress) -> None:
        latest[0] = now
        view.update(now)

    try:
        return run_bench(server, options, on_progress=on_progress, **kwargs)
    finally:
        view.finish(latest[0])


def compare(
    a: Any, b: Any, options: BenchOptions | None = None, **kwargs: Any
) -> BenchComparison:
    """The same load on ``a`` then on ``b``; their results side by side."""
    first = bench(a, options, **kwargs)
    if first.interrupted:
        return BenchComparison(first, BenchResult(summary={}, server=str(getattr(b, "name", ""))))
    return BenchComparison(first, bench(b, options, **kwargs))
