"""The engine's load routes: ``GET /get_load`` (SGLang 0.4.10 shape) and ``GET /v1/loads``
(0.5.23 shape), idle and under a running request, against a real engine process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.engine_servers import EngineServer, start_engine


@pytest.fixture(scope="module")
def engine(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineServer]:
    with start_engine(str(tiny_model_dir), [], tmp_path_factory.mktemp("load-engine")) as server:
        yield server


def _loads(url: str) -> dict:
    response = httpx.get(url + "/v1/loads", timeout=10)
    assert response.status_code == 200
    return response.json()


def test_idle_shapes(engine: EngineServer) -> None:
    assert httpx.get(engine.url + "/get_load", timeout=10).json() == {"load": 0}
    data = _loads(engine.url)
    assert data["dp_rank_count"] == 1 and isinstance(data["timestamp"], str)
    (load,) = data["loads"]
    assert load["num_running_reqs"] == 0 and load["num_waiting_reqs"] == 0
    assert load["num_used_tokens"] == 0 and load["token_usage"] == 0.0
    assert load["max_total_num_tokens"] > 0 and load["num_total_reqs"] == 0
    assert data["aggregate"]["total_reqs"] == 0


def test_running_request_shows_then_idle_again(engine: EngineServer) -> None:
    body = {"text": "count:", "stream": True,
            "sampling_params": {"max_new_tokens": 600, "temperature": 0, "ignore_eos": True}}
    done = threading.Event()

    def run() -> None:
        with httpx.stream("POST", engine.url + "/generate", json=body, timeout=120) as response:
            for _ in response.iter_lines():
                pass
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    busy_loads: list[dict] = []
    busy_tokens: list[int] = []
    while not done.is_set():
        load = _loads(engine.url)["loads"][0]
        tokens = httpx.get(engine.url + "/get_load", timeout=10).json()["load"]
        if load["num_running_reqs"]:
            busy_loads.append(load)
            busy_tokens.append(tokens)
        time.sleep(0.1)
    thread.join()
    assert busy_loads, "a 600-token request never showed as running"
    assert max(row["num_used_tokens"] for row in busy_loads) > 0
    assert max(busy_tokens) > 0
    after = _loads(engine.url)["loads"][0]
    assert after["num_running_reqs"] == 0 and after["gen_throughput"] == 0.0
    assert httpx.get(engine.url + "/get_load", timeout=10).json() == {"load": 0}


def test_the_toolkit_reads_both_routes(engine: EngineServer) -> None:
    from sgl_notebook.stats.load import LoadProbe, parse_load

    probe = LoadProbe(engine.url, min_interval=0.0)
    report = probe.poll()
    assert report is not None and report.source == "/v1/loads" and report.idle
    old = parse_load(httpx.get(engine.url + "/get_load", timeout=10).json(), "/get_load")
    assert old is not None and old.idle and old.load_tokens == 0
    probe.close()
