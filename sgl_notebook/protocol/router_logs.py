"""SGLang's router (``sglang-router``, the Rust sgl-model-gateway): its log lines, parsed.

The router logs with Rust's ``tracing`` crate: a UTC timestamp, a padded level, an optional
span (``http_request{method=GET uri=/health ...}``), the target module, the source file and
line, then the message with ``key=value`` fields. ANSI colours are always on, so they are
stripped first. Pure and stdlib only; one line in, one record (or None) out; never raises.

>>> line = ("\\x1b[2m2026-12-04 14:53:59\\x1b[0m \\x1b[32m INFO\\x1b[0m \\x1b[2msmg::server\\x1b[0m"
...         "\\x1b[2m:\\x1b[0m \\x1b[2m/src/server.rs\\x1b[0m\\x1b[2m:\\x1b[0m\\x1b[2m985:\\x1b[0m "
...         "Router ready | workers: []")
>>> event = parse_router_line(line)
>>> event.kind, event.level, event.record.target
('router_ready', 'INFO', 'smg::server')
>>> parse_router_line("2026-12-04 14:54:29  WARN smg::core::worker: /w.rs:948: HTTP health "
...                   "check failed for http://127.0.0.1:41002/health: refused").worker_url
'http://127.0.0.1:41002'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = [
    "RouterLogRecord",
    "RouterEvent",
    "strip_ansi",
    "parse_router_record",
    "parse_router_line",
    "ROUTER_EVENT_KINDS",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)Z?\s+"
    r"(?P<level>TRACE|DEBUG|INFO|WARN|ERROR)\s+"
    r"(?:(?P<span>\w+\{[^}]*\}):\s+)?"
    r"(?P<target>[\w:]+):\s+"
    r"(?:(?P<file>\S+\.rs):(?P<lineno>\d+):\s+)?"
    r"(?P<message>.*)$"
)
_FIELD = re.compile(r'(?P<key>\w+)=(?P<value>"(?:[^"\\]|\\.)*"|\S+)')
_URL = re.compile(r"https?://[^\s/\"',)]+")
_ACTIVATED = re.compile(r"Activated (\d+) worker")
_STARTING = re.compile(r"Starting router on (\S+)")
_POLICY = re.compile(r"policy: (\w+)")

# kind -> what a person reads (for the launch view and the event list)
ROUTER_EVENT_KINDS: dict[str, str] = {
    "starting": "starting the router",
    "router_ready": "router up, registering workers",
    "listening": "listening",
    "worker_pending": "a worker does not answer /health yet",
    "worker_registered": "worker registered",
    "worker_unhealthy": "a worker failed its health check",
    "request": "request",
    "warning": "warning",
    "error": "error",
    "shutdown": "shutting down",
}


@dataclass(frozen=True)
class RouterLogRecord:
    """One router log line, split into its parts (``timestamp`` is UTC, timezone-aware)."""

    timestamp: datetime
    level: str
    target: str
    message: str
    span: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RouterEvent:
    """What a router line means: ``kind`` is one of :data:`ROUTER_EVENT_KINDS`."""

    kind: str
    record: RouterLogRecord
    worker_url: str | None = None
    count: int | None = None  # workers activated
    status: int | None = None  # requests: HTTP status
    latency_s: float | None = None  # requests: time the router spent on it
    path: str | None = None  # requests: the URI

    @property
    def level(self) -> str:
        return self.record.level

    @property
    def text(self) -> str:
        """One line for people: ``"worker registered (1)"``, ``"error: ..."``."""
        label = ROUTER_EVENT_KINDS[self.kind]
        if self.kind in ("error", "warning", "worker_unhealthy", "worker_pending"):
            return f"{label}: {self.record.message[:200]}"
        if self.kind == "worker_registered" and self.count is not None:
            return f"{label} ({self.count})"
        return label


def strip_ansi(line: str) -> str:
    r"""Remove ANSI colour codes.

    >>> strip_ansi("\x1b[32m INFO\x1b[0m ok")
    ' INFO ok'
    """
    return _ANSI.sub("", line) if "\x1b" in line else line


def _fields(text: str) -> dict[str, str]:
    out = {}
    for match in _FIELD.finditer(text):
        value = match["value"]
        out[match["key"]] = value[1:-1] if value.startswith('"') else value
    return out


def parse_router_record(line: str) -> RouterLogRecord | None:
    """A router log line split into timestamp, level, target, message and fields; None for
    anything else (a Python traceback, a panic's backtrace)."""
    try:
        match = _LINE.match(strip_ansi(line).strip())
        if match is None:
            return None
        stamp = match["ts"].replace("T", " ")
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
        when = datetime.strptime(stamp, fmt).replace(tzinfo=timezone.utc)
        span = match["span"] or ""
        message = match["message"]
        fields = _fields(span[span.find("{") + 1 : -1]) if span else {}
        fields.update(_fields(message))
        return RouterLogRecord(when, match["level"], match["target"], message, span, fields)
    except Exception:  # noqa: BLE001 -- a log line must never break the pump
        return None


def _classify(record: RouterLogRecord) -> RouterEvent | None:
    message, level = record.message, record.level
    if record.span.startswith("http_request") and "finished processing request" in message:
        status = record.fields.get("status_code")
        latency = record.fields.get("latency")  # microseconds
        return RouterEvent(
            "request", record,
            status=int(status) if status and status.isdigit() else None,
            latency_s=int(latency) / 1e6 if latency and latency.isdigit() else None,
            path=record.fields.get("uri"),
        )
    if message.startswith("Starting router on"):
        return RouterEvent("starting", record)
    if message.startswith("Router ready"):
        return RouterEvent("router_ready", record)
    if message.startswith("Starting server on"):
        return RouterEvent("listening", record)
    if "terminate signal" in message or "graceful shutdown" in message.lower():
        return RouterEvent("shutdown", record)
    activated = _ACTIVATED.search(message)
    if activated:
        return RouterEvent("worker_registered", record, count=int(activated[1]))
    url = _URL.search(message)
    worker_url = url[0] if url else None
    if "health check failed for" in message:
        return RouterEvent("worker_unhealthy", record, worker_url=worker_url)
    if "detect_connection_mode" in message and "health checks failed" in message:
        return RouterEvent("worker_pending", record, worker_url=worker_url)
    if level == "ERROR":
        return RouterEvent("error", record, worker_url=worker_url)
    if level == "WARN":
        return RouterEvent("warning", record, worker_url=worker_url)
    return None


def parse_router_line(line: str) -> RouterEvent | None:
    """The meaning of one router log line, or None for lines that carry no news."""
    record = parse_router_record(line)
    if record is None:
        stripped = strip_ansi(line).strip()
        # ``Error starting router: ...`` and panics come from Python / Rust without tracing
        if stripped.startswith(("Error starting router", "RuntimeError:", "pyo3_runtime.")):
            now = datetime.now(timezone.utc)
            return RouterEvent("error", RouterLogRecord(now, "ERROR", "python", stripped))
        return None
    try:
        return _classify(record)
    except Exception:  # noqa: BLE001
        return None


def starting_details(event: RouterEvent) -> tuple[str | None, str | None]:
    """``(address, policy)`` from a ``starting`` event's message."""
    address = _STARTING.search(event.record.message)
    policy = _POLICY.search(event.record.message)
    return (address[1] if address else None, policy[1] if policy else None)
