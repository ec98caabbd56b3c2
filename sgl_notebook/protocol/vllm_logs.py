"""vLLM's periodic stats line (V1 and the older V0 form) as a :class:`SchedulerStats`.

Pure and stdlib only (reference §7.2). Shapes handled::

    (APIServer pid=3402897) INFO 08-17 02:59:34 [loggers.py:310] Engine 000: Avg prompt throughput:
        5.7 tokens/s, Avg generation throughput: 1.5 tokens/s, Running: 1 reqs, Waiting: 0 reqs,
        GPU KV cache usage: 1.0%, Prefix cache hit rate: 0.0%
    INFO 08-17 02:59:34 metrics.py:345] Avg prompt throughput: 0.0 tokens/s, ..., Running: 1 reqs,
        Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 0.1%, CPU KV cache usage: 0.0%.

vLLM's timestamp has no year: the current year is assumed.

>>> r = parse_vllm_stats_line("INFO 08-17 02:59:34 [loggers.py:310] Engine 000: Avg prompt "
...     "throughput: 5.7 tokens/s, Avg generation throughput: 1.5 tokens/s, Running: 1 reqs, "
...     "Waiting: 0 reqs, GPU KV cache usage: 1.0%, Prefix cache hit rate: 0.0%")
>>> (r.prompt_throughput, r.gen_throughput, r.running_req, r.queue_req, r.token_usage)
(5.7, 1.5, 1, 0, 0.01)
"""

from __future__ import annotations

import re
from datetime import datetime

from sgl_notebook.protocol.logs import (
    Converters,
    SchedulerStats,
    percent_to_fraction,
    split_pairs,
    typed_values,
)

__all__ = ["VLLM_STATS_MARKER", "parse_vllm_stats_line"]

VLLM_STATS_MARKER = "Avg prompt throughput: "

_TIME = re.compile(r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d{1,6}))?")
_ENGINE_HEAD = re.compile(r"(Engine \d+|\d+ Engines Aggregated): $")


def _float(text: str) -> float:
    """``"5.7 tokens/s"`` -> ``5.7`` (the leading number)."""
    return float(text.split(" ", 1)[0])


def _int(text: str) -> int:
    """``"1 reqs"`` -> ``1`` (the leading number)."""
    return int(text.split(" ", 1)[0])


_KEYS: Converters = {
    "Avg prompt throughput": ("prompt_throughput", _float),
    "Avg generation throughput": ("gen_throughput", _float),
    "Running": ("running_req", _int),
    "Waiting": ("queue_req", _int),
    "Pending": ("queue_req", _int),  # V0's name for the waiting queue
    "GPU KV cache usage": ("token_usage", percent_to_fraction),
    "KV cache usage": ("token_usage", percent_to_fraction),  # wording without "GPU"
    "Prefix cache hit rate": ("cache_hit_rate", percent_to_fraction),
}


def vllm_timestamp(prefix: str, year: int | None = None) -> datetime | None:
    """``INFO 08-17 02:59:34`` inside ``prefix`` -> a datetime in ``year`` (default: this year)."""
    match = _TIME.search(prefix)
    if match is None:
        return None
    month, day, hour, minute, second, fraction = match.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        return datetime(
            year if year is not None else datetime.now().year,
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            micro,
        )
    except ValueError:  # 02-29 in a non-leap year, or not a date at all
        return None


def _engine_head(prefix: str) -> str:
    """``"… Engine 000: "`` -> ``"Engine 000"``; ``""`` when the prefix names no engine."""
    if not prefix.endswith((": ", ": \n")):  # the regex needs one of these ends: skip it
        return ""
    head = _ENGINE_HEAD.search(prefix)
    return head.group(1) if head else ""


def parse_vllm_stats_line(line: str, *, year: int | None = None) -> SchedulerStats | None:
    """vLLM's ``Avg prompt throughput: …`` line -> ``SchedulerStats(kind="vllm")``, else None."""
    at = line.find(VLLM_STATS_MARKER)
    if at < 0:
        return None
    prefix = line[:at]
    body = line[at:].rstrip()
    if body.endswith("."):  # V0 ends its sentence with a period
        body = body[:-1]
    timestamp = vllm_timestamp(prefix, year)
    source = _engine_head(prefix)
    pairs = dict(split_pairs(body))
    values = typed_values(pairs.items(), _KEYS)
    return SchedulerStats(kind="vllm", timestamp=timestamp, raw=pairs, source=source, **values)
