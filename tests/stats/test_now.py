"""Now means now: a launched server reads idle within 2 s of its last request, in
``server.stats.latest()`` and in the dashboard; latency panels fill after one request; the load
route is asked only while something watches; short answers get their own token/s."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sgl_notebook
from sgl_notebook.display.dashboard import METRICS_PANELS, Dashboard

IDLE_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path) -> Iterator[Any]:
    launched = sgl_notebook.launch(str(tiny_model_dir), engine="cpu", enable_metrics=True)
    try:
        yield launched
    finally:
        launched.stop()


def _long_request(server: Any, tokens: int = 600) -> threading.Thread:
    body = {"text": "Once upon a time", "stream": True,
            "sampling_params": {"max_new_tokens": tokens, "temperature": 0, "ignore_eos": True}}

    def run() -> None:
        with httpx.stream("POST", server.url + "/generate", json=body, timeout=120) as response:
            for _ in response.iter_lines():
                pass

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _idle(latest: dict[str, Any]) -> bool:
    return (latest["running_req"], latest["queue_req"], latest["gen_throughput"]) == (0, 0, 0.0)


def _seconds_until_idle(read: Any) -> float:
    start = time.monotonic()
    while time.monotonic() - start < 10:
        if read():
            return time.monotonic() - start
        time.sleep(0.05)
    return float("inf")


def test_latest_and_dashboard_read_idle_within_two_seconds(server: Any) -> None:
    board = Dashboard([server])
    thread = _long_request(server)
    seen_running = False
    while thread.is_alive():
        latest = server.stats.latest()
        seen_running = seen_running or bool(latest["running_req"])
        time.sleep(0.2)
    thread.join()
    assert seen_running, "the load report never showed the running request"
    took = _seconds_until_idle(lambda: _idle(server.stats.latest()))
    assert took <= IDLE_WITHIN_S, f"latest() read idle only after {took:.1f} s"
    board.render()
    text = board._bundle()[0]["text/plain"]
    assert "0.0 token/s" in text and "0 running, 0 queued" in text, text
    point = server.stats.points()[-1]
    assert point.kind == "load" and point.running_req == 0
    assert server.stats.latest()["checked_at"] is not None
    board.stop()


def test_the_load_route_is_asked_only_while_watched(server: Any) -> None:
    server.stats.latest()
    probe = server.stats.load_probe
    assert probe is not None and probe.available is True
    before = probe.polls
    time.sleep(2.5)  # nobody reads the stats: nobody asks the server
    assert probe.polls == before
    for _ in range(20):  # reading often asks at most once a second
        server.stats.latest()
        time.sleep(0.05)
    assert 1 <= probe.polls - before <= 2


def test_latency_panels_fill_after_one_request_with_single_point_markers(server: Any) -> None:
    board = Dashboard([server])
    board.scrape()  # what /metrics says before
    server.generate("One short question", max_new_tokens=4, temperature=0)
    board.scrape()
    board.render()
    panels = board.last_metadata["sgl_notebook"]["panels"]
    assert [p[0] for p in METRICS_PANELS] == panels[-2:]
    ttft = board._figure.lines[(0, "ttft_p50")]
    xs, ys = ttft.get_data()
    # one point from this request (and one for earlier tests' requests, in the first scrape)
    assert 1 <= len(xs) <= 2 and ys[-1] > 0
    assert ttft.get_marker() == ".", "a point or two must be drawn as markers"
    board.stop()


def test_a_short_answer_gets_its_own_token_rate(server: Any) -> None:
    before = len(server.stats.points())
    result = server.chat("Say hi", max_tokens=6, temperature=0)
    assert result.usage["completion_tokens"] > 0
    rates = [p for p in server.stats.points()[before:] if p.kind == "request"]
    assert rates and rates[-1].gen_throughput > 0
