"""The router group's launch view (a row per worker and the router) and the router panel (the
request split per worker), rendered from the router's real /metrics text (tests/stats/data)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from sgl_notebook.display.router_panel import RouterPanel
from sgl_notebook.display.router_view import GroupLaunchView, group_launch_html
from sgl_notebook.protocol.phases import LaunchPhase
from sgl_notebook.server.router_group import MemberPhase
from sgl_notebook.stats.router_metrics import RouterStats, parse_router_metrics

METRICS = (Path(__file__).parents[1] / "stats" / "data" / "router_0.3.2.metrics").read_text()


@dataclass
class Worker:
    name: str
    url: str


class RouterLike:
    """What the panel reads of a Router: its workers and its router_stats."""

    def __init__(self) -> None:
        self.name = "grp"
        self.workers = [Worker("grp-w1", "http://127.0.0.1:41301"),
                        Worker("grp-w2", "http://127.0.0.1:41302")]
        self.router_stats = RouterStats(metrics_url=None)


def test_the_panel_shows_each_workers_requests_and_health() -> None:
    router = RouterLike()
    router.router_stats.add(parse_router_metrics(METRICS, when=100.0))
    router.router_stats.add(parse_router_metrics(METRICS, when=101.0))
    panel = RouterPanel(router)
    png = panel.render()
    width, height = Image.open(io.BytesIO(png)).size
    assert width > 400 and height > 100
    meta = panel.last_metadata["sgl_notebook"]
    assert meta["workers"] == ["grp-w1", "grp-w2"]
    assert meta["requests"] == [1.0, 2.0] and meta["healthy"] == [True, False]
    assert panel.bundle()["text/plain"] == (
        "requests per worker: grp-w1 1 (33%), grp-w2 2 (67%, unhealthy)"
    )


def test_the_panel_draws_before_the_first_scrape() -> None:
    panel = RouterPanel(RouterLike())
    assert panel.render().startswith(b"\x89PNG")
    assert panel.last_metadata["sgl_notebook"]["requests"] == [0.0, 0.0]


def test_the_group_launch_view_has_a_row_per_member(capsys) -> None:  # noqa: ANN001
    view = GroupLaunchView("launching 2 × tiny", "text", [], engine="cpu")
    view.start()
    view.on_phase(MemberPhase("tiny-w1", LaunchPhase.LOADING_WEIGHTS, "Loading weights", 0.5))
    view.on_phase(MemberPhase("tiny-w2", LaunchPhase.READY, "Ready", 1.0))
    view.on_phase(MemberPhase("router", LaunchPhase.WARMUP, "Workers registered: 1/2", 0.5))
    out = capsys.readouterr().out
    assert "tiny-w1: loading_weights: Loading weights" in out
    assert "router: warmup: Workers registered: 1/2" in out
    html = group_launch_html(view.states, view.members, 3.0, view.title, engine="cpu")
    for member in ("tiny-w1", "tiny-w2", "router", "registering workers", "graph capture"):
        assert (member in html) is (member != "graph capture")  # the CPU engine captures none
    assert view.members == ["tiny-w1", "tiny-w2", "router"]
