"""Scheduler events and the newer typed fields, from lines SGLang prints (recorded_events.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from sgl_notebook.protocol.events import EVENT_KINDS, parse_event_message
from sgl_notebook.stats import ServerStats, parse_line
from sgl_notebook.stats.records import EventRecord
from tests.stats import recorded_events as rec


@pytest.mark.parametrize(
    ("line", "kind", "numbers"),
    [
        (rec.RETRACTION_0410, "retraction",
         {"retracted_reqs": 1.0, "new_token_ratio_before": 0.9998, "new_token_ratio_after": 1.0}),
        (rec.RETRACTION_05, "retraction",
         {"retracted_reqs": 3.0, "aborted_retracted_reqs": 0.0, "new_token_ratio_after": 0.7}),
        (rec.PREFILL_OOM, "prefill_oom", {}),
        (rec.CRASH_05, "scheduler_crash", {"pid": 168915.0, "exit_code": -9.0}),
        (rec.CRASH_0410, "scheduler_crash", {}),
        (rec.SIGTERM, "shutdown", {}),
        (rec.GRACEFUL_EXIT, "shutdown", {"remaining_requests": 2.0}),
    ],
)
def test_each_event_line_becomes_a_typed_event(line: str, kind: str, numbers: dict) -> None:
    stats = ServerStats()
    stats.feed(line)
    (event,) = stats.events()
    assert event.kind == kind
    assert event.time is not None and event.time.year >= 2025
    assert event.message and event.message in line
    for name, value in numbers.items():
        assert event.numbers[name] == pytest.approx(value)


def test_warmup_and_ready_come_from_the_startup_lines_once_each() -> None:
    stats = ServerStats()
    for line in (rec.UVICORN_RUNNING, rec.WARMUP_ACCESS, rec.UVICORN_RUNNING, rec.READY):
        stats.feed(line)
    assert [e.kind for e in stats.events()] == ["warmup", "ready"]
    assert stats.events("ready")[0].time == datetime(2025, 7, 28, 4, 59, 51)
    assert stats.latest(refresh=False)["events"] == 2
    frame = stats.events_df()
    assert list(frame["kind"]) == ["warmup", "ready"]


def test_every_kind_is_covered_and_order_is_kept() -> None:
    stats = ServerStats()
    lines = [rec.UVICORN_RUNNING, rec.READY, rec.RETRACTION_0410, rec.PREFILL_OOM,
             rec.CRASH_05, rec.SIGTERM]
    stats.feed_lines(lines)
    assert {e.kind for e in stats.events()} == set(EVENT_KINDS)
    assert [e.kind for e in stats.events()][2:] == [
        "retraction", "prefill_oom", "scheduler_crash", "shutdown"]


def test_event_records_and_non_events() -> None:
    record = parse_line(rec.RETRACTION_05)
    assert isinstance(record, EventRecord) and record.kind == "event"
    assert record.raw["event"] == "retraction"
    for text in ("", "Retract", "[2025-07-28 05:10:00] Prefill out of", "KV cache pool is fine",
                 "AsyncLLM hit an exception: x", "x" * 10_000):
        assert parse_event_message(text) is None
    # a crash line is also a failed launch phase: still an event in the series
    stats = ServerStats()
    stats.feed(rec.CRASH_0410)
    assert stats.phases and stats.events()[0].kind == "scheduler_crash"


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        (rec.SPEC_DECODE_0523, {"accept_len": 2.75, "accept_rate": 0.69, "token_usage": 0.05}),
        (rec.SPEC_DECODE_0410, {"accept_len": 3.1, "accept_rate": None}),
        (rec.HISPARSE_DECODE, {"gpu_token_usage": 0.25, "cpu_token_usage": 0.05,
                               "token_usage": 0.25, "num_token": 640, "queue_req": 1}),
        (rec.MAMBA_DECODE, {"mamba_usage": 0.13, "full_token_usage": 0.0, "num_token": 2496}),
        (rec.SWA_DECODE, {"swa_token_usage": 0.02, "full_token_usage": 0.01, "token_usage": 0.01}),
    ],
)
def test_typed_fields_of_newer_batch_lines(line: str, fields: dict) -> None:
    for _ in range(3):  # a repeated line gives the same fields each time
        record = parse_line(line)
        for name, value in fields.items():
            assert getattr(record, name) == (pytest.approx(value) if value is not None else None)
    stats = ServerStats()
    stats.feed(line)
    point = stats.points()[-1]
    for name in ("accept_len", "accept_rate", "gpu_token_usage", "mamba_usage", "swa_token_usage"):
        if name in fields:
            assert getattr(point, name) == (pytest.approx(fields[name])
                                            if fields[name] is not None else None)
    if "accept_len" in fields:
        assert stats.latest(refresh=False)["accept_len"] == pytest.approx(fields["accept_len"])
