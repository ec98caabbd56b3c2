"""The sidebar and status bar read "now": the REST API they poll lays each live server's load
report over its log, so a real engine that finished its request reads idle within 2 s."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sgl_notebook
from sgl_notebook.jupyter_server.load_watch import LoadWatchers

IDLE_WITHIN_S = 2.0


@pytest.fixture
def engine(tiny_model_dir: Path) -> Iterator[Any]:
    server = sgl_notebook.launch(
        str(tiny_model_dir), engine="cpu", name="now-tiny", api_key="sk-load-now-0001",
        extra_args=["--decode-log-interval", "4"],
    )
    try:
        yield server
    finally:
        server.stop()


async def _servers(jp_fetch: Any) -> dict[str, Any]:
    (info,) = json.loads((await jp_fetch("sgl-notebook", "api", "servers")).body)["servers"]
    return info


async def test_the_rest_api_reads_idle_within_two_seconds(jp_fetch: Any, engine: Any) -> None:
    body = {"text": "Once upon a time", "stream": True,
            "sampling_params": {"max_new_tokens": 600, "temperature": 0, "ignore_eos": True}}
    headers = {"Authorization": f"Bearer {engine.api_key}"}

    def run() -> None:
        with httpx.stream("POST", engine.url + "/generate", json=body, headers=headers,
                          timeout=120) as response:
            for _ in response.iter_lines():
                pass

    thread = threading.Thread(target=run)
    thread.start()
    busy = []
    while thread.is_alive():
        busy.append((await _servers(jp_fetch))["stats"])
        time.sleep(0.3)
    thread.join()
    assert any(s["running_req"] for s in busy), busy[-3:]
    assert any(s["load_source"] == "/v1/loads" for s in busy)
    start = time.monotonic()
    while time.monotonic() - start < 10:
        stats = (await _servers(jp_fetch))["stats"]
        if (stats["running_req"], stats["queue_req"], stats["gen_throughput"]) == (0, 0, 0.0):
            break
        time.sleep(0.1)
    took = time.monotonic() - start
    assert took <= IDLE_WITHIN_S, f"idle only after {took:.1f} s: {stats}"
    assert stats["history"] and max(v for _, v in stats["history"]) > 0  # the sparkline stays
    server_id = (await _servers(jp_fetch))["id"]
    one = json.loads((await jp_fetch("sgl-notebook", "api", "servers", server_id, "stats")).body)
    assert one["id"] == server_id and one["running_req"] == 0 and one["checked_at"]


async def test_unreachable_or_routeless_servers_keep_the_log_numbers() -> None:
    from sgl_notebook.server.registry import ServerRecord

    record = ServerRecord(id="gone", name="gone", engine="sglang", model="m",
                          url="http://127.0.0.1:9", host="127.0.0.1", port=9, pid=1, pgid=1,
                          create_time=1.0, started_at=1.0, log_path=None, owner_pid=None,
                          owner_kernel_id=None, api_key=None, managed=False)
    watchers = LoadWatchers(timeout=0.5)
    await watchers.refresh([record])
    assert watchers.report(record) is None
    await watchers.refresh([record])  # not due again within a second: no second ask
    assert watchers.probe(record).polls == 1
    watchers.forget(set())


@pytest.fixture
def metrics_engine(tiny_model_dir: Path) -> Iterator[Any]:
    # no decode line at all: what a short answer looks like in SGLang's log, made long enough
    # here to be seen running
    server = sgl_notebook.launch(str(tiny_model_dir), engine="cpu", name="short-tiny",
                                 enable_metrics=True,
                                 extra_args=["--decode-log-interval", "1000000"])
    try:
        yield server
    finally:
        server.stop()


async def test_a_short_streamed_answer_shows_its_token_rate(
    jp_fetch: Any, metrics_engine: Any
) -> None:
    """An answer the log gives no rate for (no decode line) still shows its token/s."""
    await _servers(jp_fetch)  # the first read of the token counts
    body = {"text": "Once upon a time", "stream": True,
            "sampling_params": {"max_new_tokens": 1500, "temperature": 0, "ignore_eos": True}}
    streamed: list[str] = []

    def run() -> None:
        with httpx.stream("POST", metrics_engine.url + "/generate", json=body,
                          timeout=120) as response:
            streamed.extend(response.iter_lines())

    thread = threading.Thread(target=run)
    thread.start()
    seen = []
    while thread.is_alive():
        stats = (await _servers(jp_fetch))["stats"]
        if stats["running_req"]:
            seen.append(stats["gen_throughput"])
        time.sleep(0.2)
    thread.join()
    assert streamed
    log = metrics_engine.logs(400)
    assert not any("Decode batch" in line for line in log), "the answer made a decode line"
    assert seen and max(seen) > 0, f"no token rate while the short answer ran: {seen}"
