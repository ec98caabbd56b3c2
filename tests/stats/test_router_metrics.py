"""The router's Prometheus text, as sglang-router 0.3.2 wrote it on loopback (tests/stats/data),
parsed into per-worker snapshots and kept as history; the router modules' doctests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgl_notebook.stats.router_metrics import RouterStats, parse_router_metrics

METRICS = (Path(__file__).with_name("data") / "router_0.3.2.metrics").read_text(encoding="utf-8")


def test_metrics_give_the_split_and_the_health_per_worker() -> None:
    snap = parse_router_metrics(METRICS, when=0.0)
    assert snap.requests_per_worker == {
        "http://127.0.0.1:41301": 1.0, "http://127.0.0.1:41302": 2.0,
    }
    assert snap.healthy == {"http://127.0.0.1:41301": True, "http://127.0.0.1:41302": False}
    assert snap.selections_by_policy == {"round_robin": 3.0}
    assert snap.requests_total == 3.0 and snap.mean_duration_s is not None
    assert snap.split() == pytest.approx({"http://127.0.0.1:41301": 1 / 3,
                                          "http://127.0.0.1:41302": 2 / 3})


def test_router_stats_keep_history_for_pandas() -> None:
    stats = RouterStats(metrics_url=None)
    stats.add(parse_router_metrics(METRICS, when=10.0))
    stats.add(parse_router_metrics(METRICS, when=11.0))
    frame = stats.df()
    assert len(frame) == 4 and set(frame["worker"]) == {"http://127.0.0.1:41301",
                                                         "http://127.0.0.1:41302"}
    assert frame.loc[frame["worker"] == "http://127.0.0.1:41302", "healthy"].tolist() == [False,
                                                                                        False]
    assert stats.scrape() is None  # no URL: nothing to read
    assert "requests per worker" in repr(stats)


@pytest.mark.parametrize("name", [
    "sgl_notebook.protocol.router_logs",
    "sgl_notebook.stats.router_metrics",
    "sgl_notebook.server.router_process",
    "sgl_notebook.server.cli",
    "sgl_notebook.display.router_view",
    "sgl_notebook.display.router_panel",
])
def test_the_router_modules_doctests(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
