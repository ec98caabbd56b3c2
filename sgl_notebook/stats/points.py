"""One point of a server's stats series, and the field groups the series reads and reports.

>>> POINT_COLUMNS[:3]
('version', 'time', 'kind')
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sgl_notebook.protocol.logs import SchedulerStats

__all__ = ["LOAD_FIELDS", "POINT_COLUMNS", "SUMMARY_FIELDS", "StatsPoint", "derived_hit_rate"]

# What latest() reports, for the sidebar and the dashboard's title line.
SUMMARY_FIELDS = (
    "gen_throughput",
    "running_req",
    "queue_req",
    "token_usage",
    "cache_hit_rate",
    "requests",
    "ttft_p50",
    "itl_p50",
    "accept_len",
    "accept_rate",
)
# What a load report sets (the rest of a point stays None).
LOAD_FIELDS = ("running_req", "queue_req", "num_token", "token_usage", "gen_throughput",
                "accept_len", "accept_rate")


@dataclass(slots=True)
class StatsPoint:
    """One point of the series. ``version`` increases by one per point; unset values are None.

    ``kind`` is the record it came from (``"prefill"``, ``"decode"``, ``"vllm"``, ``"access"``),
    ``"metrics"`` for a ``/metrics`` scrape, ``"load"`` for the server's load report (what runs
    now) and ``"request"`` for a finished answer's own rate (short answers log no decode line).
    ``cache_hit_rate`` is the logged rate where the line has one, else
    ``cached_token / (cached_token + new_token)`` of the prefill batch.
    ``requests`` counts generation requests (access lines to /generate, /v1/chat/completions,
    /v1/completions) since the series began.
    """

    version: int
    time: datetime | None
    kind: str
    gen_throughput: float | None = None
    input_throughput: float | None = None
    prompt_throughput: float | None = None
    running_req: int | None = None
    queue_req: int | None = None
    token_usage: float | None = None
    num_token: int | None = None
    new_token: int | None = None
    cached_token: int | None = None
    cache_hit_rate: float | None = None
    requests: int | None = None
    ttft_p50: float | None = None
    ttft_p90: float | None = None
    ttft_p99: float | None = None
    itl_p50: float | None = None
    itl_p90: float | None = None
    itl_p99: float | None = None
    prompt_tokens_total: float | None = None
    generation_tokens_total: float | None = None
    cached_tokens_total: float | None = None
    accept_len: float | None = None
    accept_rate: float | None = None
    swa_token_usage: float | None = None
    mamba_usage: float | None = None
    gpu_token_usage: float | None = None
    cpu_token_usage: float | None = None


POINT_COLUMNS = tuple(f.name for f in fields(StatsPoint))


def derived_hit_rate(record: SchedulerStats) -> float | None:
    if record.cache_hit_rate is not None:
        return record.cache_hit_rate
    if record.kind != "prefill" or record.cached_token is None or record.new_token is None:
        return None
    total = record.cached_token + record.new_token
    return round(record.cached_token / total, 6) if total > 0 else None
