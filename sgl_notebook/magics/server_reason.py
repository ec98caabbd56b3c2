"""A server's own reason for refusing a request, found in its log when its reply is vague.

SGLang answers an invalid grammar with ``Invalid grammar request: req.grammar_key=('regex', ...)``
while the cause ("Regex parsing error at position 5: Unclosed '['") is only logged. For a server
this kernel launched, the log lines written since the request was sent are searched for it.

>>> find_reason(['[2025-01-01 10:00:00] Prefill batch. #new-seq: 1, ',
...              "[2025-01-01 10:00:00] Regex parsing error at position 5: Unclosed '['",
...              "[2025-01-01 10:00:00] {'type': 'abort', 'message': 'Invalid grammar'}",
...              '[2025-01-01 10:00:00] INFO:     127.0.0.1:5 - "POST /generate HTTP/1.1" 400'])
"Regex parsing error at position 5: Unclosed '['"
"""

from __future__ import annotations

import re
import time
from typing import Any

__all__ = ["find_reason", "log_mark", "with_server_reason"]

LOOK_BACK_LINES = 200
WAIT_FOR_LOG_S = 0.5  # the log line may reach the pump a moment after the HTTP reply
_REASON = re.compile(r"error|invalid|cannot|failed|unclosed|unexpected|unsupported", re.I)
_ACCESS = re.compile(r'"(?:GET|POST|PUT|DELETE) \S+ HTTP/[\d.]+"')
_PREFIX = re.compile(r"^\[[^\]]*\]\s*|^(?:ERROR|WARNING|INFO):?\s+")
# tracebacks, and SGLang's abort record that only restates the reply's message
_NOISE = ("Traceback", "File \"", "raise ", "^", "{'type': 'abort'")


def log_mark(target: Any) -> int | None:
    """How many lines the server's recent log holds before a request (None: no log here)."""
    lines = _lines(target)
    return None if lines is None else len(lines)


def _lines(target: Any) -> list[str] | None:
    reader = getattr(target, "log_lines", None)
    if reader is None:
        return None
    try:
        return list(reader(LOOK_BACK_LINES))
    except Exception:  # noqa: BLE001 - a log read must never hide the real error
        return None


def _strip_prefix(text: str) -> str:
    while True:  # "[ts] ERROR: msg" -> "msg"
        stripped = _PREFIX.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


def find_reason(lines: list[str]) -> str | None:
    """The most telling error line (last one wins; access-log and traceback lines skipped)."""
    for line in reversed(lines):
        text = _strip_prefix(line.strip())
        if not text or _ACCESS.search(text) or text.startswith(_NOISE):
            continue
        if _REASON.search(text):
            return text
    return None


def with_server_reason(message: str, target: Any, mark: int | None) -> str:
    """``message`` plus the server's logged reason, when the log has one the message lacks."""
    if mark is None:
        return message
    deadline = time.monotonic() + WAIT_FOR_LOG_S
    while True:
        lines = _lines(target) or []
        # the window slides once the log holds LOOK_BACK_LINES: keep what is new since `mark`
        fresh = lines[mark:] if len(lines) > mark else lines[-5:] if mark >= LOOK_BACK_LINES else []
        reason = find_reason(fresh)
        if reason or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if not reason or reason in message:
        return message
    return f"{message.rstrip('.')}. The server's log says: {reason}"
