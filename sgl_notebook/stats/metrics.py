"""``/metrics`` scrapes: TTFT and inter-token-latency percentiles and token counters.

SGLang exposes ``/metrics`` with ``--enable-metrics`` (our CPU engine too), vLLM always
(reference §2, §7.3). The text is read with ``prometheus_client``'s parser (imported lazily);
percentiles come from the histogram buckets observed *between two scrapes*, computed the way
Prometheus' ``histogram_quantile`` does (linear within a bucket).

>>> buckets = [(0.1, 0.0), (0.5, 5.0), (1.0, 10.0), (float("inf"), 10.0)]
>>> histogram_quantile(0.5, buckets)
0.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "MetricsSample",
    "MetricsScraper",
    "MetricsSnapshot",
    "histogram_quantile",
    "parse_metrics_text",
    "sample_between",
]

TTFT_HISTOGRAMS = ("sglang:time_to_first_token_seconds", "vllm:time_to_first_token_seconds")
ITL_HISTOGRAMS = (
    "sglang:inter_token_latency_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:time_per_output_token_seconds",  # older vLLM
)
COUNTERS: dict[str, tuple[str, ...]] = {
    "prompt_tokens_total": ("sglang:prompt_tokens_total", "vllm:prompt_tokens_total"),
    "generation_tokens_total": ("sglang:generation_tokens_total", "vllm:generation_tokens_total"),
    "cached_tokens_total": ("sglang:cached_tokens_total", "vllm:prefix_cache_hits_total"),
}
QUANTILES = (0.5, 0.9, 0.99)


@dataclass
class MetricsSnapshot:
    """One parsed ``/metrics`` text: histogram buckets (``le`` -> cumulative count, summed over
    label sets) and counter values by sample name."""

    histograms: dict[str, dict[float, float]] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)


@dataclass
class MetricsSample:
    """What one scrape adds to the series; latencies in seconds, None without new data."""

    ttft_p50: float | None = None
    ttft_p90: float | None = None
    ttft_p99: float | None = None
    itl_p50: float | None = None
    itl_p90: float | None = None
    itl_p99: float | None = None
    prompt_tokens_total: float | None = None
    generation_tokens_total: float | None = None
    cached_tokens_total: float | None = None

    def values(self) -> dict[str, Any]:
        return asdict(self)


def parse_metrics_text(text: str) -> MetricsSnapshot:
    """Prometheus text exposition -> :class:`MetricsSnapshot`. Raises ValueError on bad text."""
    from prometheus_client.parser import text_string_to_metric_families

    snapshot = MetricsSnapshot()
    counter_names = {name for names in COUNTERS.values() for name in names}
    # cached_tokens_total carries cache_source=device|host|storage|total in SGLang 0.5.23:
    # keep "total" alone where it exists, so tokens are not counted twice.
    cache_totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, float(sample.value)
            if name.endswith("_bucket") and "le" in labels:
                buckets = snapshot.histograms.setdefault(name[: -len("_bucket")], {})
                upper = float(labels["le"])
                buckets[upper] = buckets.get(upper, 0.0) + value
            elif name in counter_names:
                source = labels.get("cache_source")
                if source == "total":
                    cache_totals[name] = cache_totals.get(name, 0.0) + value
                else:
                    snapshot.counters[name] = snapshot.counters.get(name, 0.0) + value
    snapshot.counters.update(cache_totals)
    return snapshot


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of cumulative ``(upper bound, count)`` buckets; None when empty."""
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower  # beyond the last finite bound: Prometheus answers that bound
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def _delta(now: Mapping[float, float], before: Mapping[float, float] | None) -> dict[float, float]:
    if not before:
        return dict(now)
    delta = {le: count - before.get(le, 0.0) for le, count in now.items()}
    if any(count < 0 for count in delta.values()):  # a restarted server: counts began again
        return dict(now)
    return delta


def _percentiles(
    names: tuple[str, ...], now: MetricsSnapshot, before: MetricsSnapshot | None
) -> list[float | None]:
    for name in names:
        if name in now.histograms:
            previous = before.histograms.get(name) if before else None
            delta = _delta(now.histograms[name], previous)
            return [histogram_quantile(q, delta.items()) for q in QUANTILES]
    return [None] * len(QUANTILES)


def sample_between(now: MetricsSnapshot, before: MetricsSnapshot | None) -> MetricsSample:
    """Percentiles of what was observed between two snapshots, and the counters now."""
    ttft = _percentiles(TTFT_HISTOGRAMS, now, before)
    itl = _percentiles(ITL_HISTOGRAMS, now, before)
    counters: dict[str, float | None] = {}
    for field_name, names in COUNTERS.items():
        counters[field_name] = next((now.counters[n] for n in names if n in now.counters), None)
    return MetricsSample(*ttft, *itl, **counters)


class MetricsScraper:
    """Scrapes one server's ``/metrics`` over httpx; remembers the previous scrape for deltas.

    ``available`` is None until the first answer, False once the server said 404 (metrics not
    enabled: later calls return None without asking again), True after a good scrape.
    """

    def __init__(
        self, url: str, api_key: str | None = None, *, timeout: float = 2.0, transport: Any = None
    ) -> None:
        self.url = url.rstrip("/") + "/metrics"
        self.api_key = api_key
        self.timeout = timeout
        self.transport = transport
        self.available: bool | None = None
        self._previous: MetricsSnapshot | None = None
        self._client: Any = None

    def scrape(self) -> MetricsSample | None:
        """One scrape; None when metrics are off, the server is unreachable or the text is bad."""
        if self.available is False:
            return None
        import httpx

        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.Client(
                timeout=self.timeout, headers=headers, transport=self.transport
            )
        try:
            response = self._client.get(self.url)
        except httpx.HTTPError:
            return None
        if response.status_code == 404:
            self.available = False
            return None
        if response.status_code != 200:
            return None
        try:
            snapshot = parse_metrics_text(response.text)
        except (ValueError, TypeError):
            return None
        self.available = True
        sample = sample_between(snapshot, self._previous)
        self._previous = snapshot
        return sample

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
