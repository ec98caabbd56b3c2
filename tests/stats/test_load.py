"""Load reports: every shape SGLang and vLLM answer, and the probe's route choice and pacing."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest

from sgl_notebook.stats import ServerStats
from sgl_notebook.stats.load import LoadProbe, parse_load, parse_vllm_gauges

V1_LOADS_BUSY = {
    "timestamp": "2026-03-01T08:00:00+00:00", "version": "0.5.23", "dp_rank_count": 2,
    "loads": [
        {"dp_rank": 0, "num_running_reqs": 3, "num_waiting_reqs": 1, "num_used_tokens": 900,
         "token_usage": 0.2, "gen_throughput": 100.0, "cache_hit_rate": 0.5,
         "speculative": {"accept_length": 2.5, "accept_rate": 0.6}},
        {"dp_rank": 1, "num_running_reqs": 2, "num_waiting_reqs": 0, "num_used_tokens": 100,
         "token_usage": 0.4, "gen_throughput": 50.0, "cache_hit_rate": 0.3,
         "speculative": {"accept_length": 3.5, "accept_rate": 0.8}},
    ],
}
VLLM_METRICS = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 4.0
vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
"""


def test_v1_loads_sums_ranks_and_averages_fractions() -> None:
    report = parse_load(V1_LOADS_BUSY, "/v1/loads")
    assert report is not None and not report.idle
    assert (report.running_req, report.queue_req, report.num_token) == (5, 1, 1000)
    assert report.token_usage == pytest.approx(0.3)
    assert report.gen_throughput == pytest.approx(150.0)
    assert report.accept_len == pytest.approx(3.0) and report.accept_rate == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("data", "idle", "running"),
    [
        ({"load": 0}, True, None),
        ({"load": 37}, False, None),
        ([{"dp_rank": 0, "num_reqs": 3, "num_waiting_reqs": 1, "num_tokens": 80}], False, 2),
        ([{"dp_rank": 0, "num_reqs": 0, "num_waiting_reqs": 0, "num_tokens": 0}], True, 0),
    ],
)
def test_older_get_load_shapes(data: object, idle: bool, running: int | None) -> None:
    report = parse_load(data, "/get_load")
    assert report is not None and report.idle is idle and report.running_req == running


@pytest.mark.parametrize("data", [None, "busy", 3, [], {}, {"loads": []}, {"load": "x"}, [1, 2]])
def test_shapes_no_server_answers_are_none(data: object) -> None:
    assert parse_load(data, "/v1/loads") is None


def test_vllm_gauges() -> None:
    report = parse_vllm_gauges(VLLM_METRICS)
    assert report is not None
    assert (report.running_req, report.queue_req, report.token_usage) == (4, 2, 0.25)
    assert parse_vllm_gauges("# nothing here\n") is None


def _probe(routes: dict[str, tuple[int, object]], **kwargs: object) -> tuple[LoadProbe, list]:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        status, body = routes.get(request.url.path, (404, "not found"))
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    probe = LoadProbe("http://server", transport=httpx.MockTransport(handler),
                      min_interval=0.0, **kwargs)  # type: ignore[arg-type]
    return probe, asked


def test_probe_falls_back_to_get_load_and_remembers() -> None:
    probe, asked = _probe({"/get_load": (200, {"load": 0})})
    assert probe.poll().idle and probe.poll().idle
    assert asked == ["/v1/loads", "/get_load", "/get_load"]


def test_probe_asks_server_info_for_the_rate_while_0410_is_busy() -> None:
    info = {"internal_states": [{"last_gen_throughput": 42.5, "load": 12}]}
    probe, asked = _probe({"/get_load": (200, {"load": 12}), "/get_server_info": (200, info)})
    report = probe.poll()
    assert report is not None and report.gen_throughput == 42.5 and not report.idle
    assert asked[-1] == "/get_server_info"


def test_probe_without_routes_stops_asking_and_paces_itself() -> None:
    probe, asked = _probe({})
    assert probe.poll() is None and probe.available is False
    assert probe.poll() is None and asked == ["/v1/loads", "/get_load"]
    paced, asked = _probe({"/v1/loads": (200, V1_LOADS_BUSY)})
    paced.min_interval = 60.0
    assert paced.poll() is not None and paced.poll() is None and len(asked) == 1
    vllm, asked = _probe({"/metrics": (200, VLLM_METRICS)}, engine="vllm")
    assert vllm.poll().running_req == 4 and asked == ["/metrics"]
    failing, _ = _probe({"/v1/loads": (500, "boom")})
    assert failing.poll() is None and failing.available is None  # asked again later


def test_idle_report_zeroes_the_live_numbers_and_adds_no_point_when_unchanged() -> None:
    stats = ServerStats()
    stats.feed("[2025-07-28 04:59:52] Decode batch. #running-req: 1, #token: 64, token usage: "
               "0.01, cuda graph: False, gen throughput (token/s): 2.80, #queue-req: 0, ")
    report = parse_load({"load": 0}, "/get_load", datetime(2025, 7, 28, 5, 0, 0))
    assert stats.add_load(report) is not None
    latest = stats.latest()
    assert (latest["running_req"], latest["queue_req"], latest["gen_throughput"]) == (0, 0, 0.0)
    assert latest["token_usage"] == 0.0
    assert stats.add_load(report) is None  # nothing changed: no point, only checked_at
    assert stats.latest()["checked_at"] == datetime(2025, 7, 28, 5, 0, 0)


def test_answers_rate_only_without_a_decode_line() -> None:
    stats = ServerStats()
    point = stats.add_answer(tokens=10, seconds=2.5, ttft=0.5)
    assert point is not None and point.kind == "request" and point.gen_throughput == 5.0
    for bad in ((None, 1.0), (0, 1.0), (5, 0.0), (5, None)):
        assert stats.add_answer(*bad) is None
    stats.feed("[2025-07-28 04:59:52] Decode batch. #running-req: 1, #token: 64, token usage: "
               "0.01, cuda graph: False, gen throughput (token/s): 9.00, #queue-req: 0, ")
    assert stats.add_answer(tokens=50, seconds=5.0) is None  # the log's rate stands
    assert json.dumps(stats.latest()["gen_throughput"]) == "9.0"


@pytest.mark.parametrize("path", ["/v1/loads", "/get_load", "/get_load?x=1"])
def test_load_polling_does_not_keep_a_server_from_idling(path: str) -> None:
    from sgl_notebook.server.idle import is_request_access_line

    line = f'[2026-03-01 08:00:00] INFO:     127.0.0.1:5 - "GET {path} HTTP/1.1" 200 OK'
    assert not is_request_access_line(line)
    assert is_request_access_line(line.replace(f"GET {path}", "POST /generate"))
