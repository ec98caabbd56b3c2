"""One log line -> one typed record: the entry point :func:`parse_line`.

Dispatches on cheap substring checks before any regex, because most log lines are not stats
lines: ``" batch"`` (SGLang's prefill/decode lines), ``"Avg prompt throughput: "`` (vLLM's stats
line), ``" HTTP/"`` (uvicorn access lines), one regex for scheduler events (retraction, prefill
OOM, crash, shutdown: :mod:`sgl_notebook.protocol.events`), and otherwise the launch-phase parser
(:mod:`sgl_notebook.protocol.phases`).

>>> parse_line("[2025-07-28 04:59:51] Prefill batch. #new-seq: 1, #new-token: 6, "
...            "#cached-token: 2, token usage: 0.00, #running-req: 0, #queue-req: 0, ").cached_token
2
>>> parse_line("hello") is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Union

from sgl_notebook.protocol.access_logs import AccessLine, parse_access_line
from sgl_notebook.protocol.events import EVENT_MARKERS, SchedulerEvent, parse_event_message
from sgl_notebook.protocol.logs import (
    SchedulerStats,
    parse_sglang_batch_line,
    parse_sglang_timestamp,
)
from sgl_notebook.protocol.phases import PhaseEvent, parse_phase_line
from sgl_notebook.protocol.vllm_logs import VLLM_STATS_MARKER, parse_vllm_stats_line

__all__ = [
    "AccessLine",
    "EventRecord",
    "LogRecord",
    "PhaseRecord",
    "SchedulerEvent",
    "SchedulerStats",
    "event_record",
    "parse_line",
]


@dataclass(slots=True)
class PhaseRecord:
    """A startup line: ``kind`` is ``"phase"``; ``event`` is the launch phase it announces."""

    kind: str
    timestamp: datetime | None
    event: PhaseEvent
    raw: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class EventRecord:
    """A scheduler event line: ``kind`` is ``"event"``; ``event`` says what happened."""

    kind: str
    timestamp: datetime | None
    event: SchedulerEvent
    raw: Mapping[str, str] = field(default_factory=dict)


LogRecord = Union[SchedulerStats, AccessLine, PhaseRecord, EventRecord]  # noqa: UP007 (3.10)


def event_record(line: str) -> EventRecord | None:
    """A retraction / prefill OOM / crash / shutdown line as a record, else None. (A crash
    line that is also a failed launch phase parses as a :class:`PhaseRecord`; the series asks
    here too.)"""
    timestamp, message = None, line
    if line.startswith("["):
        close = line.find("] ")
        if close > 0:
            timestamp, _ = parse_sglang_timestamp(line[: close + 2])
            if timestamp is not None:
                message = line[close + 2 :]
    event = parse_event_message(message, timestamp)
    if event is None:
        return None
    return EventRecord("event", timestamp, event, {"event": event.kind, "message": event.message})


def _phase_event(line: str, dialect: str) -> PhaseEvent | None:
    """:func:`parse_phase_line`, with SGLang's ``[time] `` prefix read by our cached reader
    (the same datetime, without a ``strptime`` per line)."""
    if line.startswith("["):
        close = line.find("] ")
        if close > 0:
            timestamp, _ = parse_sglang_timestamp(line[: close + 2])
            if timestamp is not None:
                event = parse_phase_line(line[close + 2 :], dialect)
                if event is None:
                    return None
                # every PhaseEvent field, with our timestamp (built directly, not replace())
                return PhaseEvent(event.phase, event.message, event.progress, timestamp)
    return parse_phase_line(line, dialect)


def parse_line(line: str, dialect: str = "sglang") -> LogRecord | None:
    """Parse one server log line into a record, or return None. Never raises.

    Records have ``kind`` (``"prefill"``, ``"decode"``, ``"vllm"``, ``"access"``, ``"event"``,
    ``"phase"``),
    ``timestamp`` (as logged, or None) and ``raw`` (the key/values as logged). ``dialect``
    (``"sglang"``, ``"cpu"`` or ``"vllm"``) only matters for startup lines.
    """
    try:
        if " batch" in line:
            record = parse_sglang_batch_line(line)
            if record is not None:
                return record
        if VLLM_STATS_MARKER in line:
            return parse_vllm_stats_line(line)
        if " HTTP/" in line:
            access = parse_access_line(line)
            if access is not None:
                return access
        event = _phase_event(line, dialect)
        if event is not None:
            return PhaseRecord(
                kind="phase",
                timestamp=event.timestamp,
                event=event,
                raw={"phase": event.phase.value, "message": event.message},
            )
        if EVENT_MARKERS.search(line) is not None:
            return event_record(line)
    except Exception:  # noqa: BLE001 -- a log line must never break the log pump
        return None
    return None
