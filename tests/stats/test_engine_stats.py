"""The series against the CPU engine's real log while it serves concurrent load."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from sgl_notebook.stats import MetricsScraper, ServerStats, StatsPoint, from_log
from tests.fixtures.engine_servers import EngineServer, start_engine
from tests.stats.logtail import LogTail

CONCURRENT = 8


@pytest.fixture(scope="module")
def engine(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineServer]:
    """Our own engine: metrics on, a decode line every 4 steps so short runs log several."""
    with start_engine(
        str(tiny_model_dir),
        ["--enable-metrics", "--decode-log-interval", "4"],
        tmp_path_factory.mktemp("stats-engine"),
    ) as server:
        yield server


def _generate(url: str, prompt: str) -> dict[str, object]:
    body = {
        "text": prompt,
        "sampling_params": {"max_new_tokens": 40, "temperature": 0, "ignore_eos": True},
    }
    response = httpx.post(url + "/generate", json=body, timeout=120, trust_env=False)
    response.raise_for_status()
    return response.json()


def _words(rng: random.Random, n: int) -> str:
    vocabulary = [
        "river",
        "mountain",
        "city",
        "answer",
        "question",
        "model",
        "token",
        "cache",
        "server",
        "batch",
    ]
    return " ".join(rng.choice(vocabulary) + str(rng.randint(0, 999)) for _ in range(n))


def _load(url: str, prompts: list[str]) -> None:
    with ThreadPoolExecutor(CONCURRENT) as pool:
        for result in pool.map(lambda p: _generate(url, p), prompts):
            assert result["meta_info"]["completion_tokens"] == 40  # type: ignore[index]


def _hit_rates(points: list[StatsPoint]) -> list[float]:
    return [
        p.cache_hit_rate for p in points if p.kind == "prefill" and p.cache_hit_rate is not None
    ]


def test_live_series_under_load_and_from_log(engine: EngineServer) -> None:
    rng = random.Random(7)
    live = ServerStats()
    with LogTail(engine.log_path, live) as tail:
        # Distinct prompts: nothing to reuse.
        _load(engine.url, [_words(rng, 60) for _ in range(CONCURRENT)])
        tail.wait_for('"POST /generate HTTP/1.1"', CONCURRENT)
        after_distinct = live.version
        # One long shared prefix: the first request caches it, the others reuse it.
        prefix = _words(rng, 150)
        _generate(engine.url, prefix + " first")
        _load(engine.url, [f"{prefix} {_words(rng, 3)}" for _ in range(CONCURRENT)])
        tail.wait_for('"POST /generate HTTP/1.1"', 2 * CONCURRENT + 1)
    points = live.points()
    decode = [p for p in points if p.kind == "decode"]
    assert max(p.running_req or 0 for p in decode) > 1, "concurrent requests ran together"
    assert max(p.gen_throughput or 0.0 for p in decode) > 0.0
    assert all(p.time is not None for p in points)
    distinct = _hit_rates([p for p in points if p.version <= after_distinct])
    shared = _hit_rates([p for p in points if p.version > after_distinct])
    assert distinct and shared
    assert sum(shared) / len(shared) > sum(distinct) / len(distinct) + 0.3
    assert max(shared) > 0.8
    assert live.latest()["requests"] >= 2 * CONCURRENT + 1

    saved = from_log(engine.log_path)
    assert [asdict(p) for p in saved.points()] == [asdict(p) for p in points]

    frame = saved.df()
    assert frame["running_req"].max() > 1 and frame["gen_throughput"].max() > 0


def test_metrics_scrape_adds_latency_percentiles(engine: EngineServer) -> None:
    scraper = MetricsScraper(engine.url)
    scraper.scrape()  # a baseline: percentiles below are for the requests in between
    _load(engine.url, [f"metrics run {i}" for i in range(4)])
    sample = scraper.scrape()
    scraper.close()
    assert scraper.available is True and sample is not None
    assert sample.ttft_p50 is not None and sample.ttft_p50 > 0
    assert sample.itl_p50 is not None and 0 < sample.itl_p50 <= (sample.itl_p99 or 0)
    assert (sample.generation_tokens_total or 0) >= 4 * 40
    stats = ServerStats()
    stats.add_metrics(sample)
    assert stats.latest()["ttft_p50"] == sample.ttft_p50


def test_metrics_scraper_bad_targets() -> None:
    missing = MetricsScraper(
        "http://127.0.0.1:9", transport=httpx.MockTransport(lambda r: httpx.Response(404))
    )
    assert missing.scrape() is None and missing.available is False
    garbage = MetricsScraper(
        "http://127.0.0.1:9",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text="{not prometheus")),
    )
    assert garbage.scrape() is None and garbage.available is None
    unreachable = MetricsScraper("http://127.0.0.1:1", timeout=0.5)  # nothing listens there
    assert unreachable.scrape() is None
    unreachable.close()


class _EngineView:
    """What the dashboard needs from a server: this engine, its log tailed into stats."""

    def __init__(self, engine: EngineServer) -> None:
        self.name, self.url, self.api_key = "tiny", engine.url, None
        self.stats = ServerStats()
        self.engine = engine

    def is_alive(self) -> bool:
        return self.engine.process.poll() is None


def test_dashboard_adds_latency_panels_from_the_engine_metrics(engine: EngineServer) -> None:
    from sgl_notebook.display.dashboard import METRICS_PANELS, PANELS, Dashboard

    view = _EngineView(engine)
    with LogTail(engine.log_path, view.stats) as tail:
        board = Dashboard([view])
        board.scrape()  # baseline scrape
        _load(engine.url, [f"dashboard run {i}" for i in range(4)])
        board.scrape()
        tail.wait_for('"POST /generate HTTP/1.1"', 1)
        board.render()
        board.stop()  # closes its HTTP clients
    assert view.stats.latest()["ttft_p50"] is not None and view.stats.latest()["ttft_p50"] > 0
    panels = board.last_metadata["sgl_notebook"]["panels"]
    assert panels == [p[0] for p in PANELS + METRICS_PANELS]
    assert board.last_metadata["sgl_notebook"]["points"][0] > 4
