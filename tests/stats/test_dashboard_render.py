"""The dashboard's frames without a kernel: panels, metrics panels, PNG output, bad input."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from PIL import Image

from sgl_notebook.display.dashboard import METRICS_PANELS, PANELS, Dashboard, dashboard
from sgl_notebook.stats import MetricsSample, ServerStats


class StandIn:
    def __init__(self, name: str) -> None:
        self.name, self.url, self.api_key = name, None, None
        self.stats = ServerStats()

    def is_alive(self) -> bool:
        return True


def _fill(server: StandIn, seconds: int = 30) -> None:
    start = datetime(2026, 1, 1, 12, 0, 0)
    for i in range(seconds):
        when = (start + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
        server.stats.feed(
            f"[{when}] Decode batch. #running-req: {i % 5}, #token: {i}, token usage: 0.{i:02d}, "
            f"cuda graph: False, gen throughput (token/s): {10 + i}.00, #queue-req: {i % 2}, "
        )


def _panels(board: Dashboard) -> list[str]:
    return list(board.last_metadata["sgl_notebook"]["panels"])


def test_four_panels_then_six_when_metrics_arrive() -> None:
    servers = [StandIn("alpha"), StandIn("beta")]
    for server in servers:
        _fill(server)
    board = Dashboard(servers)
    first = Image.open(io.BytesIO(board.render()))
    assert first.format == "PNG" and first.mode == "RGBA"
    assert first.getpixel((0, 0))[3] == 0, "transparent background for dark themes"
    assert _panels(board) == [p[0] for p in PANELS]
    assert board.last_metadata["sgl_notebook"]["servers"] == ["alpha", "beta"]
    servers[0].stats.add_metrics(MetricsSample(ttft_p50=0.2, ttft_p90=0.4, itl_p50=0.02))
    second = Image.open(io.BytesIO(board.render()))
    assert _panels(board) == [p[0] for p in PANELS + METRICS_PANELS]
    assert second.height > first.height
    meta = board.last_metadata["image/png"]
    assert (meta["width"], meta["height"]) == second.size and board.frames == 2


def test_empty_series_still_renders() -> None:
    board = Dashboard([StandIn("idle")])
    assert Image.open(io.BytesIO(board.render())).format == "PNG"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one server"):
        Dashboard([])
    with pytest.raises(TypeError, match="no .stats"):
        Dashboard([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least 1"):
        Dashboard([StandIn("a")], interval=0.5)
    with pytest.raises(ValueError, match="window"):
        Dashboard([StandIn("a")], window=-1)


def test_outside_a_kernel_says_what_to_use_instead() -> None:
    with pytest.raises(RuntimeError, match=r"stats\.df\(\)"):
        dashboard(StandIn("a"))


def test_terminal_ipython_is_not_a_notebook() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()  # a shell without a kernel, as in terminal IPython
    try:
        with pytest.raises(RuntimeError, match="Jupyter notebook"):
            dashboard(StandIn("a"))
    finally:
        InteractiveShell.clear_instance()
