"""/metrics text -> percentiles and counters, for SGLang 0.4.10 / 0.5.23 and vLLM names."""

from __future__ import annotations

import math

import httpx
import pytest

from sgl_notebook.stats.metrics import (
    MetricsScraper,
    histogram_quantile,
    parse_metrics_text,
    sample_between,
)


def _histogram(name: str, labels: str, counts: dict[str, int]) -> str:
    lines = [f"# HELP {name} h", f"# TYPE {name} histogram"]
    for le, count in counts.items():
        lines.append(f'{name}_bucket{{{labels},le="{le}"}} {count}')
    total = counts["+Inf"]
    lines += [f"{name}_sum{{{labels}}} {total * 0.1}", f"{name}_count{{{labels}}} {total}"]
    return "\n".join(lines)


SGLANG_0410 = "\n".join(
    [
        _histogram(
            "sglang:time_to_first_token_seconds",
            'model_name="m"',
            {"0.1": 2, "0.2": 6, "0.4": 10, "+Inf": 10},
        ),
        _histogram(
            "sglang:inter_token_latency_seconds",
            'model_name="m"',
            {"0.002": 0, "0.01": 50, "0.05": 100, "+Inf": 100},
        ),
        "# TYPE sglang:prompt_tokens counter",
        'sglang:prompt_tokens_total{model_name="m"} 1200.0',
        "# TYPE sglang:generation_tokens counter",
        'sglang:generation_tokens_total{model_name="m"} 800.0',
        "# TYPE sglang:cached_tokens counter",
        'sglang:cached_tokens_total{model_name="m"} 300.0',
        "# TYPE sglang:num_running_reqs gauge",
        'sglang:num_running_reqs{model_name="m",tp_rank="0"} 3.0',
    ]
)

# 0.5.23: TTFT split by is_streaming; cached tokens by cache_source, including a "total" row
SGLANG_0523 = "\n".join(
    [
        _histogram(
            "sglang:time_to_first_token_seconds",
            'model_name="m",is_streaming="true"',
            {"0.1": 1, "0.2": 2, "+Inf": 2},
        ),
        _histogram(
            "sglang:time_to_first_token_seconds",
            'model_name="m",is_streaming="false"',
            {"0.1": 1, "0.2": 2, "+Inf": 2},
        ),
        "# TYPE sglang:cached_tokens counter",
        'sglang:cached_tokens_total{model_name="m",cache_source="device"} 70.0',
        'sglang:cached_tokens_total{model_name="m",cache_source="host"} 30.0',
        'sglang:cached_tokens_total{model_name="m",cache_source="total"} 100.0',
    ]
)

VLLM = "\n".join(
    [
        _histogram(
            "vllm:time_to_first_token_seconds",
            'model_name="m",engine="0"',
            {"0.02": 0, "0.04": 4, "0.06": 8, "+Inf": 8},
        ),
        _histogram(
            "vllm:inter_token_latency_seconds",
            'model_name="m",engine="0"',
            {"0.01": 10, "0.025": 20, "+Inf": 20},
        ),
        "# TYPE vllm:generation_tokens counter",
        'vllm:generation_tokens_total{model_name="m",engine="0"} 512.0',
        "# TYPE vllm:prefix_cache_hits counter",
        'vllm:prefix_cache_hits_total{model_name="m",engine="0"} 64.0',
    ]
)


def test_histogram_quantile_like_prometheus() -> None:
    buckets = [(0.1, 2.0), (0.2, 6.0), (0.4, 10.0), (math.inf, 10.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.175)  # 5th of 10: 3/4 into (.1,.2]
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.05)  # inside the first bucket
    assert histogram_quantile(0.99, [(1.0, 1.0), (math.inf, 5.0)]) == 1.0  # beyond: last bound
    assert histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None
    assert histogram_quantile(0.5, [(1.0, 3.0)]) is None  # no +Inf bucket: not a histogram


def test_sglang_0410_sample() -> None:
    sample = sample_between(parse_metrics_text(SGLANG_0410), None)
    assert sample.ttft_p50 == pytest.approx(0.175)
    assert sample.itl_p50 == pytest.approx(0.01)
    assert sample.itl_p90 == pytest.approx(0.01 + 0.04 * 40 / 50)
    assert (sample.prompt_tokens_total, sample.generation_tokens_total) == (1200.0, 800.0)
    assert sample.cached_tokens_total == 300.0


def test_sglang_0523_label_sets_are_summed_and_cache_total_not_double_counted() -> None:
    snapshot = parse_metrics_text(SGLANG_0523)
    assert snapshot.histograms["sglang:time_to_first_token_seconds"][0.1] == 2.0
    assert snapshot.counters["sglang:cached_tokens_total"] == 100.0


def test_vllm_names() -> None:
    sample = sample_between(parse_metrics_text(VLLM), None)
    assert sample.ttft_p50 == pytest.approx(0.04)
    assert sample.itl_p50 == pytest.approx(0.01)
    assert sample.generation_tokens_total == 512.0 and sample.cached_tokens_total == 64.0


def test_percentiles_cover_only_what_happened_between_scrapes() -> None:
    before = parse_metrics_text(SGLANG_0410)
    later = SGLANG_0410.replace('le="0.4"} 10', 'le="0.4"} 20').replace(
        'le="+Inf"} 10', 'le="+Inf"} 20'
    )
    sample = sample_between(parse_metrics_text(later), before)
    # the 10 new observations all fell in (0.2, 0.4]
    assert 0.2 < (sample.ttft_p50 or 0) <= 0.4
    idle = sample_between(before, before)
    assert idle.ttft_p50 is None and idle.prompt_tokens_total == 1200.0


def test_scraper_sends_the_api_key_and_reads_metrics() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(200, text=SGLANG_0410)

    scraper = MetricsScraper("http://server/", "k", transport=httpx.MockTransport(handler))
    first = scraper.scrape()
    assert first is not None and first.ttft_p50 == pytest.approx(0.175)
    second = scraper.scrape()
    assert second is not None and second.ttft_p50 is None  # nothing new since the first
    assert seen == ["Bearer k", "Bearer k"] and scraper.available is True
    scraper.close()


def test_bad_metrics_text_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_metrics_text("sglang:x{le=} nope nope")
