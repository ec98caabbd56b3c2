"""SGLang's scheduler event lines -> typed events: retraction, prefill OOM, crash, shutdown.

Pure and stdlib only; nothing here raises. The texts are SGLang's own (0.4.10 and the 0.5 line):

* ``KV cache pool is full. Retract requests. #retracted_reqs: 1, #new_token_ratio: 0.99 -> 1.00``
  (0.5.x may add ``#aborted_retracted_reqs: 0``) -> ``"retraction"``,
* ``Prefill out of memory. Try to lower your batch size.`` -> ``"prefill_oom"``,
* ``Subprocess scheduler_0 (pid=168915) crashed with exit code -9. Triggering SIGQUIT …`` (0.5.x)
  and ``Scheduler hit an exception: Traceback …`` (0.4.10, the CPU engine) -> ``"scheduler_crash"``,
* ``SIGTERM received. signum=None frame=None. Draining requests and shutting down...`` and
  ``Gracefully exiting... Remaining number of requests 0. …`` -> ``"shutdown"``.

Warm-up and ready come from the launch-phase parser (:mod:`sgl_notebook.protocol.phases`);
:mod:`sgl_notebook.stats` turns those into events of kinds ``"warmup"`` and ``"ready"``.

>>> e = parse_event_message("KV cache pool is full. Retract requests. #retracted_reqs: 2, "
...                         "#new_token_ratio: 0.5000 -> 0.7000")
>>> e.kind, e.numbers["retracted_reqs"], e.numbers["new_token_ratio_after"]
('retraction', 2.0, 0.7)
>>> parse_event_message("hello") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["EVENT_KINDS", "SchedulerEvent", "parse_event_message", "EVENT_MARKERS"]

EVENT_KINDS = ("retraction", "prefill_oom", "scheduler_crash", "shutdown", "warmup", "ready")

# One C-speed search rejects the lines that are no event (nearly all of them).
EVENT_MARKERS = re.compile(
    r"Retract requests|Prefill out of memory|crashed with exit code|hit an exception"
    r"|SIGTERM received|Gracefully exiting"
)
_PAIR = re.compile(r"#?([A-Za-z_][\w ]*?): (-?\d+(?:\.\d+)?)(?: -> (-?\d+(?:\.\d+)?))?")
_CRASH = re.compile(r"Subprocess (\S+) \(pid=(\d+)\) crashed with exit code (-?\d+)")
_TOKENS = re.compile(r"allocate (\d+) tokens")
_REMAINING = re.compile(r"Remaining number of requests (\d+)")


@dataclass(frozen=True, slots=True)
class SchedulerEvent:
    """One thing the scheduler did or suffered: ``kind`` is one of :data:`EVENT_KINDS`.

    ``time`` is the log's timestamp (None if the line had none); ``message`` the logged text
    (its first line); ``numbers`` what the line counts (``retracted_reqs``, ``exit_code``, ...).
    """

    kind: str
    time: datetime | None
    message: str
    numbers: Mapping[str, float] = field(default_factory=dict)


def _pairs(text: str) -> dict[str, float]:
    """``#retracted_reqs: 1, #new_token_ratio: 0.9 -> 1.0`` -> named numbers (``_before`` /
    ``_after`` for a change)."""
    numbers: dict[str, float] = {}
    for name, value, after in _PAIR.findall(text):
        key = name.strip().replace(" ", "_")
        if after:
            numbers[f"{key}_before"] = float(value)
            numbers[f"{key}_after"] = float(after)
        else:
            numbers[key] = float(value)
    return numbers


def parse_event_message(message: str, when: datetime | None = None) -> SchedulerEvent | None:
    """The message part of a log line (after ``[time] ``) -> a :class:`SchedulerEvent`, or None."""
    if EVENT_MARKERS.search(message) is None:
        return None
    text = message.strip().splitlines()[0] if message.strip() else ""
    if "Retract requests" in text:
        _, _, counts = text.partition("Retract requests.")
        return SchedulerEvent("retraction", when, text, _pairs(counts))
    if "Prefill out of memory" in text:
        tokens = _TOKENS.search(message)
        numbers = {"tokens": float(tokens.group(1))} if tokens else {}
        return SchedulerEvent("prefill_oom", when, text, numbers)
    crash = _CRASH.search(text)
    if crash is not None:
        process, pid, code = crash.groups()
        numbers = {"pid": float(pid), "exit_code": float(code)}
        return SchedulerEvent("scheduler_crash", when, text, numbers)
    if "Scheduler hit an exception" in text:
        return SchedulerEvent("scheduler_crash", when, text, {})
    if "SIGTERM received" in text:
        return SchedulerEvent("shutdown", when, text, {})
    remaining = _REMAINING.search(text)
    if "Gracefully exiting" in text:
        numbers = {"remaining_requests": float(remaining.group(1))} if remaining else {}
        return SchedulerEvent("shutdown", when, text, numbers)
    return None
