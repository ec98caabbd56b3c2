"""The dashboard's markers: single points, scheduler events, the speculative-decoding panel."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

from PIL import Image

from sgl_notebook.display.dashboard import PANELS, Dashboard
from sgl_notebook.display.dashboard_marks import EVENT_COLORS, SPEC_PANELS
from sgl_notebook.stats import MetricsSample, ServerStats
from tests.stats import recorded_events as rec


class StandIn:
    def __init__(self, name: str) -> None:
        self.name, self.url, self.api_key = name, None, None
        self.stats = ServerStats()

    def is_alive(self) -> bool:
        return True


def _decode(stats: ServerStats, when: datetime, extra: str = "") -> None:
    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    stats.feed(f"[{stamp}] Decode batch. #running-req: 2, #token: 90, token usage: 0.10, "
               f"{extra}cuda graph: False, gen throughput (token/s): 40.00, #queue-req: 0, ")


def test_one_latency_point_is_a_marker_and_a_long_series_is_a_line() -> None:
    server = StandIn("one")
    server.stats.add_metrics(MetricsSample(ttft_p50=0.3, ttft_p90=0.5, itl_p50=0.02))
    board = Dashboard([server])
    board.render()
    line = board._figure.lines[(0, "ttft_p50")]
    assert len(line.get_xdata()) == 1 and line.get_marker() == "."
    start = datetime.now()
    for i in range(10):
        _decode(server.stats, start + timedelta(seconds=i))
    board.render()
    throughput = board._figure.lines[(0, "gen_throughput")]
    assert len(throughput.get_xdata()) == 10 and throughput.get_marker() == "None"


def test_scheduler_events_become_vertical_markers_in_every_panel() -> None:
    server = StandIn("events")
    start = datetime(2025, 7, 28, 5, 9, 50)
    for i in range(20):
        _decode(server.stats, start + timedelta(seconds=i))
    server.stats.feed(rec.RETRACTION_0410)  # 05:10:00, inside the window
    server.stats.feed(rec.PREFILL_OOM)  # 05:10:01
    board = Dashboard([server])
    png = board.render()
    marks = board._figure.marks
    assert [kind for kind, _ in marks.shown] == ["retraction", "prefill_oom"]
    assert board._figure.title.get_text().endswith("dotted: retraction, prefill_oom")
    for pool in marks.pools:
        assert pool[0].get_visible() and pool[0].get_color() == EVENT_COLORS["retraction"]
        assert not pool[2].get_visible()
    assert Image.open(io.BytesIO(png)).format == "PNG"
    frames = board.frames
    server.stats.feed(rec.SIGTERM)  # an event alone (no new point) still counts as a change
    assert board._changed()
    board.render()
    assert board.frames == frames + 1


def test_accept_length_adds_the_speculative_panel() -> None:
    server = StandIn("spec")
    board = Dashboard([server])
    _decode(server.stats, datetime.now())
    board.render()
    assert board.last_metadata["sgl_notebook"]["panels"] == [p[0] for p in PANELS]
    server.stats.feed(rec.SPEC_DECODE_0523)
    board.render()
    assert board.last_metadata["sgl_notebook"]["panels"][-1] == SPEC_PANELS[0][0]
