"""The router's log lines, as sglang-router 0.3.2 wrote them on loopback (tests/stats/data, shared
with the router metrics, views and sidebar tests: ANSI colours kept), parsed into records and
events."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sgl_notebook.protocol.router_logs import (
    parse_router_line,
    parse_router_record,
    starting_details,
    strip_ansi,
)

DATA = Path(__file__).parents[1] / "stats" / "data"
LOG = (DATA / "router_0.3.2.log").read_text(encoding="utf-8").splitlines()


def test_every_sample_line_has_ansi_colours_and_parses() -> None:
    assert all("\x1b[" in line for line in LOG[:-1])
    events = [parse_router_line(line) for line in LOG]
    kinds = [e.kind if e else None for e in events]
    assert kinds == [
        "starting", "router_ready", "listening", "worker_pending", "worker_registered",
        "request", "worker_unhealthy", "shutdown", "error",
    ]


def test_records_carry_utc_time_level_target_and_fields() -> None:
    record = parse_router_record(LOG[5])
    assert record is not None
    assert record.timestamp.tzinfo is timezone.utc and record.level == "INFO"
    assert record.target == "smg::response" and record.fields["uri"] == "/generate"
    request = parse_router_line(LOG[5])
    assert request is not None and request.status == 200 and request.path == "/generate"
    assert request.latency_s is not None and 0 < request.latency_s < 1


def test_events_name_the_worker_and_the_policy() -> None:
    starting = parse_router_line(LOG[0])
    assert starting is not None
    address, policy = starting_details(starting)
    assert address and address.startswith("127.0.0.1:") and policy == "RoundRobin"
    pending, unhealthy = parse_router_line(LOG[3]), parse_router_line(LOG[6])
    assert pending is not None and pending.worker_url and pending.worker_url.startswith("http://")
    assert unhealthy is not None and unhealthy.worker_url == "http://127.0.0.1:41002"
    registered = parse_router_line(LOG[4])
    assert registered is not None and registered.count == 1
    assert registered.text == "worker registered (1)"
    error = parse_router_line(LOG[-1])
    assert error is not None and "Address already in use" in error.text


@given(st.text(max_size=300))
def test_any_text_never_raises(text: str) -> None:
    parse_router_line(text)
    strip_ansi(text)
