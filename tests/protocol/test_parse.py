"""The log parsers against recorded lines of every dialect in the reference."""

from __future__ import annotations

from datetime import datetime

import pytest

from sgl_notebook.protocol.phases import LaunchPhase
from sgl_notebook.stats import AccessLine, PhaseRecord, SchedulerStats, parse_line
from tests.protocol import recorded_lines as rec


def stats(line: str) -> SchedulerStats:
    record = parse_line(line)
    assert isinstance(record, SchedulerStats), line
    return record


def test_legacy_lines_with_rank_tag_and_cache_hit_rate() -> None:
    prefill = stats(rec.LEGACY_PREFILL_HIT)
    assert prefill.kind == "prefill"
    assert prefill.timestamp == datetime(2025, 2, 19, 22, 18, 9)
    assert prefill.source == "TP0"
    assert (prefill.new_seq, prefill.new_token, prefill.cached_token) == (1, 3, 12)
    assert prefill.cache_hit_rate == pytest.approx(0.4615)
    assert (prefill.token_usage, prefill.running_req, prefill.queue_req) == (0.01, 1, 0)
    decode = stats(rec.LEGACY_DECODE)
    assert (decode.kind, decode.running_req, decode.num_token, decode.gen_throughput) == (
        "decode",
        1,
        41,
        6.22,
    )
    assert decode.cuda_graph is None  # the legacy decode line had no graph flag


def test_0410_trailing_separator() -> None:
    prefill = stats(rec.V0410_PREFILL)
    assert prefill.raw == {
        "#new-seq": "1",
        "#new-token": "6",
        "#cached-token": "0",
        "token usage": "0.00",
        "#running-req": "0",
        "#queue-req": "0",
    }
    assert prefill.cache_hit_rate is None and prefill.input_throughput is None
    decode = stats(rec.V0410_DECODE)
    assert decode.timestamp == datetime(2025, 7, 28, 4, 59, 52)
    assert (decode.num_token, decode.token_usage, decode.cuda_graph, decode.queue_req) == (
        64,
        0.0,
        False,
        0,
    )
    assert decode.source == "" and decode.iteration is None


def test_054_iteration_counter_and_cpu_graph() -> None:
    assert stats(rec.V054_PREFILL).iteration == 12
    decode = stats(rec.V054_DECODE)
    assert (decode.iteration, decode.cuda_graph, decode.gen_throughput) == (52, True, 5.96)


def test_0523_comma_head_new_fields_and_milliseconds() -> None:
    prefill = stats(rec.V0523_PREFILL)
    assert (prefill.input_throughput, prefill.cuda_graph) == (0.0, False)
    assert prefill.raw["#pending-token"] == "0"
    assert stats(rec.V0523_DECODE).gen_throughput == 5.96
    moved = stats(rec.V0523_PREFILL_MS_REORDERED)
    assert moved.timestamp == datetime(2026, 3, 1, 8, 0, 2, 123000)
    assert (moved.iteration, moved.input_throughput, moved.cuda_graph) == (7, 0.14, False)
    assert moved.raw["#replay-token"] == "4"  # unknown keys are kept as logged


def test_swa_mamba_spec_pd_mfu_variants() -> None:
    swa = stats(rec.SWA_PREFILL_0410)
    assert swa.token_usage == 0.12 and swa.raw["swa token usage"] == "0.30"
    swa_decode = stats(rec.SWA_DECODE_0410)
    assert (swa_decode.num_token, swa_decode.token_usage) == (64, 0.01)
    mamba = stats(rec.MAMBA_PREFILL_0523)
    assert (mamba.token_usage, mamba.raw["mamba usage"], mamba.input_throughput) == (
        0.05,
        "0.10",
        12.34,
    )
    spec = stats(rec.SPEC_DECODE_0523)
    assert (spec.running_req, spec.gen_throughput, spec.raw["accept len"]) == (4, 220.5, "3.21")
    pd = stats(rec.PD_PREFILL_0410)
    assert (pd.source, pd.running_req, pd.queue_req, pd.input_throughput) == (
        "DP1 TP0",
        None,
        1,
        1234.56,
    )
    assert stats(rec.PD_DECODE_0410).raw["pre-allocated usage"] == "0.01"
    mfu = stats(rec.MFU_DECODE_0523)
    assert mfu.gen_throughput == 80.0 and mfu.raw["fwd occupancy"] == "87.50%"


def test_vllm_lines() -> None:
    year = datetime.now().year
    v1 = stats(rec.VLLM_V1)
    assert v1.kind == "vllm" and v1.source == "Engine 000"
    assert v1.timestamp == datetime(year, 8, 17, 2, 59, 34)
    assert (v1.prompt_throughput, v1.gen_throughput, v1.running_req, v1.queue_req) == (
        5.7,
        1.5,
        1,
        0,
    )
    assert (v1.token_usage, v1.cache_hit_rate) == (0.01, 0.0)
    plain = stats(rec.VLLM_V1_PLAIN)
    assert (plain.token_usage, plain.cache_hit_rate, plain.running_req) == (0.375, 0.624, 12)
    dp = stats(rec.VLLM_V1_NEWEST_DP)
    assert dp.source == "2 Engines Aggregated" and dp.raw["Deferred"] == "2 reqs"
    assert (dp.gen_throughput, dp.token_usage, dp.cache_hit_rate) == (310.2, 0.881, 0.125)
    no_gpu_word = stats(rec.VLLM_V1_PLAIN.replace("GPU KV cache usage", "KV cache usage"))
    assert no_gpu_word.token_usage == 0.375
    v0 = stats(rec.VLLM_V0)
    assert (v0.gen_throughput, v0.running_req, v0.queue_req, v0.token_usage) == (21.3, 2, 4, 0.001)
    assert v0.cache_hit_rate is None and v0.raw["CPU KV cache usage"] == "0.0%"


@pytest.mark.parametrize(
    ("line", "method", "path", "status", "has_time"),
    [
        (rec.ACCESS_SGLANG, "POST", "/generate", 200, True),
        (rec.ACCESS_VLLM, "POST", "/v1/chat/completions", 200, False),
        (rec.ACCESS_PLAIN_QUERY, "GET", "/health", 503, False),
    ],
)
def test_access_lines(line: str, method: str, path: str, status: int, has_time: bool) -> None:
    record = parse_line(line)
    assert isinstance(record, AccessLine)
    assert (record.kind, record.method, record.path, record.status) == (
        "access",
        method,
        path,
        status,
    )
    assert (record.timestamp is not None) == has_time
    assert record.is_generation == (path != "/health")


def test_startup_lines_become_phase_records() -> None:
    record = parse_line("[2025-07-28 04:59:51] Load weight begin. avail mem=78.50 GB")
    assert isinstance(record, PhaseRecord)
    assert record.event.phase is LaunchPhase.LOADING_WEIGHTS
    ready = parse_line("[2025-07-28 04:59:58] The server is fired up and ready to roll!")
    assert isinstance(ready, PhaseRecord) and ready.event.phase is LaunchPhase.READY
    assert ready.timestamp == datetime(2025, 7, 28, 4, 59, 58)
    failed = parse_line("[2025-07-28 04:59:58 TP0] Scheduler hit an exception: Traceback (most")
    assert isinstance(failed, PhaseRecord) and failed.event.phase is LaunchPhase.FAILED


@pytest.mark.parametrize(
    "line",
    [
        "",
        "Prefill batch size is 4",
        "[2025-07-28 04:59:51] Decode batch",
        "[2025-07-28 04:59:51] Decode batch.",
        "Decode batch [x], #running-req: 1",
        '  File "scheduler.py", line 3, in event_loop',
        "Avg prompt throughput",
        '"GET / HTTP/1.1"',
        "\x00\x1b[31m batch. \r\n",
    ],
)
def test_other_lines_are_not_stats(line: str) -> None:
    assert not isinstance(parse_line(line), SchedulerStats | AccessLine)


def test_bad_values_stay_raw_and_do_not_raise() -> None:
    record = stats(
        "[2025-13-45 04:59:51] Decode batch. #running-req: many, #token: 64, token usage: nan%, "
        "cuda graph: maybe, gen throughput (token/s): 1e400, #queue-req: -3, "
    )
    assert record.timestamp is None  # month 13 is not a date
    assert record.running_req is None and record.raw["#running-req"] == "many"
    assert record.cuda_graph is None and record.num_token == 64 and record.queue_req == -3


def _same(a: object, b: object) -> bool:
    """Equal, down to raw's key order and each value's type (repr shows both)."""
    return repr(a) == repr(b)


@pytest.mark.parametrize(
    "line",
    [
        rec.LEGACY_PREFILL_HIT,
        rec.LEGACY_DECODE,
        rec.V0410_PREFILL,
        rec.V0410_DECODE,
        rec.V054_DECODE,
        rec.V0523_PREFILL,
        rec.V0523_PREFILL_MS_REORDERED,
        rec.SWA_PREFILL_0410,
        rec.SWA_DECODE_0410,
        rec.MAMBA_PREFILL_0523,
        rec.PD_PREFILL_0410,
        rec.VLLM_V1,
        rec.VLLM_V1_NEWEST_DP,
        rec.VLLM_V0,
    ],
)
def test_a_repeated_line_reads_the_same_every_time(line: str) -> None:
    # Servers repeat the same body shape: no state kept between lines changes how it is read.
    first = parse_line(line)
    assert isinstance(first, SchedulerStats)
    for _ in range(3):
        assert _same(parse_line(line), first)


def test_values_that_do_not_convert_in_a_repeated_shape_stay_raw() -> None:
    good = (
        "[2025-07-28 04:59:51] Decode batch. #running-req: 3, #token: 64, token usage: 0.01, "
        "cuda graph: True, gen throughput (token/s): 5.96, #queue-req: 0, "
    )
    for _ in range(3):
        assert stats(good).cuda_graph is True  # the shape has been seen before
    odd = stats(
        good.replace("#running-req: 3", "#running-req: many")
        .replace("cuda graph: True", "cuda graph: maybe")
        .replace("#token: 64", "#token: ")
    )
    assert (odd.running_req, odd.cuda_graph, odd.num_token, odd.gen_throughput) == (
        None,
        None,
        None,
        5.96,
    )
    assert odd.raw["#running-req"] == "many" and odd.raw["#token"] == ""
    fallback = (
        "[2025-07-28 04:59:51] Decode batch. #running-req: 3, #full token: 64, "
        "full token usage: 0.50, token usage: 0.25, #queue-req: 0"
    )
    for _ in range(3):
        record = stats(fallback)
        assert (record.num_token, record.token_usage) == (64, 0.25)  # plain key wins
    broken = stats(fallback.replace("token usage: 0.25", "token usage: x"))
    assert broken.token_usage == 0.5  # the fallback fills what the plain key could not
