"""Prometheus metrics under SGLang 0.4.10's names and labels (``srt/metrics/collector.py``).

Scheduler gauges (labels ``model_name``, ``engine_type``, ``tp_rank``, ``pp_rank``) are updated
from the scheduler's step records (``core/step_stats.py``), the records its ``Prefill batch.`` /
``Decode batch.`` lines are rendered from, exactly when SGLang updates them. Request metrics
(label ``model_name``) are observed by the HTTP layer as outputs arrive.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from ..core.step_stats import PrefillStats, StepStats

# SGLang's multiprocess collector exposes no ``*_created`` samples; neither do we.
disable_created_metrics()  # type: ignore[no-untyped-call]

TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400]
E2E_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 800]
ITL_BUCKETS = [
    0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060,
    0.080, 0.100, 0.200, 0.400, 0.600, 0.800, 1.000, 2.000, 4.000, 6.000, 8.000,
]


class EngineMetrics:
    """The ``sglang:*`` collectors of one engine, in their own registry."""

    def __init__(self, model_name: str) -> None:
        self.registry = CollectorRegistry()
        self._sched_labels = {
            "model_name": model_name, "engine_type": "unified", "tp_rank": "0", "pp_rank": "0",
        }
        self._req_labels = {"model_name": model_name}
        # declared in SGLang's order, which is the order /metrics lists them in
        self._declare_scheduler_gauges()
        self._declare_request_metrics()

    def _gauge(self, name: str, doc: str) -> Any:
        labels = self._sched_labels
        return Gauge(name, doc, list(labels), registry=self.registry).labels(**labels)

    def _counter(self, name: str, doc: str) -> Any:
        labels = self._req_labels
        return Counter(name, doc, list(labels), registry=self.registry).labels(**labels)

    def _histogram(self, name: str, doc: str, buckets: list[float]) -> Any:
        labels = self._req_labels
        return Histogram(
            name, doc, list(labels), buckets=buckets, registry=self.registry
        ).labels(**labels)

    def _declare_scheduler_gauges(self) -> None:
        gauge = self._gauge
        self.num_running_reqs = gauge("sglang:num_running_reqs", "The number of running requests.")
        self.num_used_tokens = gauge("sglang:num_used_tokens", "The number of used tokens.")
        self.token_usage = gauge("sglang:token_usage", "The token usage.")
        self.gen_throughput = gauge(
            "sglang:gen_throughput", "The generation throughput (token/s)."
        )
        self.num_queue_reqs = gauge(
            "sglang:num_queue_reqs", "The number of requests in the waiting queue."
        )
        self.num_grammar_queue_reqs = gauge(
            "sglang:num_grammar_queue_reqs",
            "The number of requests in the grammar waiting queue.",
        )
        self.cache_hit_rate = gauge("sglang:cache_hit_rate", "The prefix cache hit rate.")

    def _declare_request_metrics(self) -> None:
        counter, histogram = self._counter, self._histogram
        self.prompt_tokens = counter(
            "sglang:prompt_tokens_total", "Number of prefill tokens processed."
        )
        self.generation_tokens = counter(
            "sglang:generation_tokens_total", "Number of generation tokens processed."
        )
        self.cached_tokens = counter(
            "sglang:cached_tokens_total", "Number of cached prompt tokens."
        )
        self.num_requests = counter("sglang:num_requests_total", "Number of requests processed.")
        self.num_so_requests = counter(
            "sglang:num_so_requests_total", "Number of structured output requests processed."
        )
        # Declared without the suffix in 0.4.10; prometheus_client exposes it with ``_total``.
        self.num_aborted_requests = counter(
            "sglang:num_aborted_requests", "Number of requests aborted."
        )
        self.ttft = histogram(
            "sglang:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            TTFT_BUCKETS,
        )
        self.itl = histogram(
            "sglang:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            ITL_BUCKETS,
        )
        self.e2e = histogram(
            "sglang:e2e_request_latency_seconds",
            "Histogram of End-to-end request latency in seconds",
            E2E_BUCKETS,
        )

    # -- scheduler side -------------------------------------------------------------------------
    def observe_step(self, stats: StepStats) -> None:
        """Update the scheduler gauges from the record behind a ``Prefill batch.`` or
        ``Decode batch.`` line (0.4.10 rounds token usage to 2 places and resets the cache hit
        rate on every decode tick)."""
        self.num_running_reqs.set(stats.running_req)
        self.num_queue_reqs.set(stats.queue_req)
        self.token_usage.set(round(stats.token_usage, 2))
        if isinstance(stats, PrefillStats):
            self.cache_hit_rate.set(stats.cache_hit_rate)
        else:
            self.num_used_tokens.set(stats.num_token)
            self.gen_throughput.set(stats.gen_throughput)
            self.cache_hit_rate.set(0.0)

    # -- request side ---------------------------------------------------------------------------
    def observe_aborted(self) -> None:
        self.num_aborted_requests.inc()


class RequestTimer:
    """Per-request TTFT, inter-token and e2e observations (``collect_metrics`` in SGLang)."""

    def __init__(self, metrics: EngineMetrics, created: float, structured: bool) -> None:
        self.metrics = metrics
        self.created = created
        self.structured = structured
        self.first_token_seen = False
        self.last_time = created
        self.last_completion_tokens = 0

    def observe(self, completion_tokens: int, finished: bool, meta: dict[str, Any]) -> None:
        now = time.time()
        m = self.metrics
        if not self.first_token_seen and completion_tokens > 0:
            self.first_token_seen = True
            m.ttft.observe(now - self.created)
            self.last_time = now
            self.last_completion_tokens = completion_tokens
        elif completion_tokens > self.last_completion_tokens:
            n_new = completion_tokens - self.last_completion_tokens
            interval = now - self.last_time
            for _ in range(n_new):
                m.itl.observe(interval / n_new)
            self.last_time = now
            self.last_completion_tokens = completion_tokens
        if finished:
            m.prompt_tokens.inc(meta.get("prompt_tokens", 0))
            m.generation_tokens.inc(completion_tokens)
            if meta.get("cached_tokens", 0) > 0:
                m.cached_tokens.inc(meta["cached_tokens"])
            m.num_requests.inc()
            if self.structured:
                m.num_so_requests.inc()
            m.e2e.observe(now - self.created)
