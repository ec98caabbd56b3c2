"""Live scheduler stats: log lines -> typed records -> a bounded series -> pandas / plots.

>>> from sgl_notebook.stats import parse_line, ServerStats, from_log
>>> parse_line("[2025-07-28 04:59:51] Decode batch. #running-req: 2, #token: 90, "
...            "token usage: 0.01, cuda graph: False, gen throughput (token/s): 41.20, "
...            "#queue-req: 0, ").gen_throughput
41.2

``ServerStats`` is what a launched server carries as ``server.stats`` (fed by its log pump, and
asking the server's load report through a ``LoadProbe`` while read); ``from_log(path)`` rebuilds
the same series from a saved log; ``MetricsScraper`` adds TTFT and inter-token latency from
``/metrics``; ``stats.events()`` lists ``SchedulerEvent``s; ``BenchResult`` is what
``server.bench()`` / ``%sgl bench`` return. Stdlib only at import; pandas, httpx and
prometheus_client are imported when used. See docs/stats.md.
"""

from __future__ import annotations

from sgl_notebook.protocol.events import SchedulerEvent
from sgl_notebook.stats.bench_result import BenchComparison, BenchResult
from sgl_notebook.stats.load import LoadProbe, LoadReport
from sgl_notebook.stats.metrics import MetricsSample, MetricsScraper
from sgl_notebook.stats.records import (
    AccessLine,
    LogRecord,
    PhaseRecord,
    SchedulerStats,
    parse_line,
)
from sgl_notebook.stats.series import ServerStats, StatsPoint, from_log

__all__ = [
    "AccessLine",
    "BenchComparison",
    "BenchResult",
    "LoadProbe",
    "LoadReport",
    "SchedulerEvent",
    "LogRecord",
    "MetricsSample",
    "MetricsScraper",
    "PhaseRecord",
    "SchedulerStats",
    "ServerStats",
    "StatsPoint",
    "from_log",
    "parse_line",
]
