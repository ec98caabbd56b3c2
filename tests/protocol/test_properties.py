"""Hypothesis properties: arbitrary text never raises; a formatted record parses back to itself."""

from __future__ import annotations

import math
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sgl_notebook.stats import AccessLine, SchedulerStats, ServerStats, parse_line
from tests.protocol.log_formats import (
    SGLANG_DIALECTS,
    VLLM_DIALECTS,
    format_access_line,
    format_sglang_batch_line,
    format_vllm_stats_line,
)

NOISE = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
MARKERS = st.sampled_from(
    [
        "Prefill batch. ",
        "Decode batch [3], ",
        "Decode batch, ",
        " batch",
        "Avg prompt throughput: ",
        '"GET /x HTTP/1.1" 200',
        "[2025-07-28 04:59:51] ",
        ": ",
        ", ",
        "%",
        " graph: ",
        "Engine 000: ",
        "Load weight begin",
        "Loading safetensors checkpoint shards:  25% Completed | 1/4 [",
        "INFO 08-17 02:59:34 [loggers.py:310] ",
    ]
)
TEXTISH = st.lists(st.one_of(NOISE, MARKERS), max_size=12).map("".join)

counts = st.integers(min_value=0, max_value=10**6)
hundredths = st.integers(min_value=0, max_value=100).map(lambda n: n / 100)  # "%.2f" fractions
rates = st.integers(min_value=0, max_value=10**7).map(lambda n: n / 100)  # "%.2f" throughputs
seconds = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda t: t.replace(microsecond=0)
)


@settings(max_examples=400, deadline=None)
@given(TEXTISH)
def test_arbitrary_text_never_raises(text: str) -> None:
    record = parse_line(text)
    assert record is None or record.kind in {"prefill", "decode", "vllm", "access", "phase"}
    stats = ServerStats(maxlen=5)
    stats.feed(text)
    assert len(stats) <= 5


def _typed(record: SchedulerStats) -> dict[str, object]:
    names = (
        "kind",
        "timestamp",
        "new_seq",
        "new_token",
        "cached_token",
        "token_usage",
        "running_req",
        "queue_req",
        "num_token",
        "gen_throughput",
        "input_throughput",
        "prompt_throughput",
        "cache_hit_rate",
        "cuda_graph",
        "iteration",
        "source",
    )
    return {name: getattr(record, name) for name in names}


@st.composite
def sglang_records(draw: st.DrawFn) -> tuple[str, SchedulerStats]:
    dialect = draw(st.sampled_from(SGLANG_DIALECTS))
    kind = draw(st.sampled_from(["prefill", "decode"]))
    when = draw(seconds)
    if dialect == "sglang-0.5.23" and draw(st.booleans()):
        when = when.replace(microsecond=draw(st.integers(1, 999)) * 1000)  # SGLANG_LOG_MS=1
    source = draw(st.sampled_from(["TP0", "DP1 TP0"])) if dialect == "sglang-legacy" else ""
    common = dict(
        kind=kind,
        timestamp=when,
        token_usage=draw(hundredths),
        running_req=draw(counts),
        queue_req=draw(counts),
        source=source,
    )
    if kind == "prefill":
        common.update(new_seq=draw(counts), new_token=draw(counts), cached_token=draw(counts))
        if dialect == "sglang-legacy":
            common["cache_hit_rate"] = draw(st.integers(0, 10000)) / 10000
        if dialect == "sglang-0.5.23":
            common.update(cuda_graph=draw(st.booleans()), input_throughput=draw(rates))
    else:
        common.update(num_token=draw(counts), gen_throughput=draw(rates))
        if dialect != "sglang-legacy":
            common["cuda_graph"] = draw(st.booleans())
    if dialect == "sglang-0.5.4":
        common["iteration"] = draw(counts)
    elif dialect == "sglang-0.5.23":
        common["iteration"] = draw(st.none() | counts)
    record = SchedulerStats(**common)  # type: ignore[arg-type]
    return format_sglang_batch_line(record, dialect), record


@settings(max_examples=400, deadline=None)
@given(sglang_records())
def test_sglang_lines_round_trip(case: tuple[str, SchedulerStats]) -> None:
    line, record = case
    parsed = parse_line(line)
    assert isinstance(parsed, SchedulerStats), line
    expected, got = _typed(record), _typed(parsed)
    expected_hit, got_hit = expected.pop("cache_hit_rate"), got.pop("cache_hit_rate")
    assert got == expected, line
    if expected_hit is None:
        assert got_hit is None
    else:
        assert isinstance(got_hit, float) and isinstance(expected_hit, float)
        assert math.isclose(expected_hit, got_hit, abs_tol=1e-9)


@st.composite
def vllm_records(draw: st.DrawFn) -> tuple[str, SchedulerStats]:
    dialect = draw(st.sampled_from(VLLM_DIALECTS))
    tenths = st.integers(0, 10**6).map(lambda n: n / 10)
    percent = st.integers(0, 1000).map(lambda n: round(n / 1000, 6))  # "%.1f%%" as a fraction
    when = draw(seconds)
    if (when.month, when.day) == (2, 29):  # vLLM's year is assumed: stay valid in any year
        when = when.replace(day=28)
    when = when.replace(year=datetime.now().year)
    record = SchedulerStats(
        kind="vllm",
        timestamp=when,
        prompt_throughput=draw(tenths),
        gen_throughput=draw(tenths),
        running_req=draw(counts),
        queue_req=draw(counts),
        token_usage=draw(percent),
        cache_hit_rate=draw(percent) if dialect == "vllm-v1" else None,
        source=draw(st.sampled_from(["Engine 000", "2 Engines Aggregated", ""]))
        if dialect == "vllm-v1"
        else "",
    )
    pid = draw(st.integers(0, 10**6))
    return format_vllm_stats_line(record, dialect, pid=pid), record


@settings(max_examples=300, deadline=None)
@given(vllm_records())
def test_vllm_lines_round_trip(case: tuple[str, SchedulerStats]) -> None:
    line, record = case
    parsed = parse_line(line)
    assert isinstance(parsed, SchedulerStats), line
    assert _typed(parsed) == _typed(record), line


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    st.from_regex(r"/[A-Za-z0-9_/.-]{0,30}", fullmatch=True),
    st.sampled_from([200, 400, 404, 500]),
    st.none() | seconds,
)
def test_access_lines_round_trip(
    method: str, path: str, status: int, when: datetime | None
) -> None:
    parsed = parse_line(format_access_line(method, path, status, when))
    assert isinstance(parsed, AccessLine)
    assert (parsed.method, parsed.path, parsed.status, parsed.timestamp) == (
        method,
        path,
        status,
        when,
    )


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXTISH, sglang_records().map(lambda case: case[0])))
def test_a_line_parses_the_same_every_time(text: str) -> None:
    # No state carries over from one line to the next: a repeated line gives the same record.
    first = repr(parse_line(text))
    for _ in range(3):
        assert repr(parse_line(text)) == first
