"""Log parsing speed: ``sgl_notebook.stats.parse_line`` vs a naive one-regex-per-field parser.

Builds a mixed server log in memory (SGLang prefill/decode lines of four releases, vLLM stats
lines, uvicorn access lines, startup/traceback/other lines), then times both parsers over the
same lines, side by side in one run, and prints lines per second, the ratio, and whether the aim
holds: 1M lines parsed in under 10 s (a notebook's server writes a few lines a second; a
post-mortem reads a whole log at once).

    .venv/bin/python benchmarks/bench_parse.py [LINES]      # default 1,000,000
"""

from __future__ import annotations

import random
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sgl_notebook.stats import SchedulerStats, parse_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the log formatter is in tests/
from tests.protocol.log_formats import (  # noqa: E402
    SGLANG_DIALECTS,
    format_access_line,
    format_sglang_batch_line,
    format_vllm_stats_line,
)

AIM_LINES, AIM_SECONDS = 1_000_000, 10.0

OTHER_LINES = (
    "[{t}] Load weight begin. avail mem=78.50 GB",
    "[{t}] KV Cache is allocated. #tokens: 1048576, K size: 12.00 GB, V size: 12.00 GB",
    "Loading safetensors checkpoint shards:  50% Completed | 2/4 [00:02<00:02,  1.01s/it]",
    "[{t}] Receive: obj=GenerateReqInput(rid='9f2c', stream=True)",
    "[{t}] Cache flushed successfully!",
    "Traceback (most recent call last):",
    '  File "/usr/lib/python3.11/site-packages/sglang/srt/managers/scheduler.py", line 2410',
    "(EngineCore_DP0 pid=3403000) INFO 08-17 02:59:30 [core.py:80] Engine core ready",
)


def build_log(n: int, seed: int = 0) -> list[str]:
    """``n`` lines: 35% decode, 20% prefill, 25% access, 5% vLLM, 15% other."""
    rng = random.Random(seed)
    start = datetime(2025, 7, 28, 4, 0, 0)
    lines = []
    for i in range(n):
        when = start + timedelta(seconds=i // 20)
        roll = rng.random()
        dialect = SGLANG_DIALECTS[i % len(SGLANG_DIALECTS)]
        if roll < 0.35:
            record = SchedulerStats(
                kind="decode",
                timestamp=when,
                running_req=rng.randint(0, 64),
                queue_req=rng.randint(0, 8),
                num_token=rng.randint(0, 10**5),
                token_usage=rng.randint(0, 99) / 100,
                gen_throughput=rng.randint(0, 10**5) / 100,
                cuda_graph=True,
                iteration=i,
            )
            lines.append(format_sglang_batch_line(record, dialect))
        elif roll < 0.55:
            record = SchedulerStats(
                kind="prefill",
                timestamp=when,
                new_seq=rng.randint(1, 8),
                new_token=rng.randint(1, 4096),
                cached_token=rng.randint(0, 4096),
                token_usage=rng.randint(0, 99) / 100,
                running_req=rng.randint(0, 64),
                queue_req=rng.randint(0, 8),
                iteration=i,
                input_throughput=123.4,
            )
            lines.append(format_sglang_batch_line(record, dialect))
        elif roll < 0.80:
            path = rng.choice(["/generate", "/v1/chat/completions", "/health", "/metrics"])
            lines.append(format_access_line("POST", path, 200, when))
        elif roll < 0.85:
            record = SchedulerStats(
                kind="vllm",
                timestamp=when,
                prompt_throughput=5.7,
                gen_throughput=1.5,
                running_req=3,
                queue_req=0,
                token_usage=0.01,
                cache_hit_rate=0.5,
                source="Engine 000",
            )
            lines.append(format_vllm_stats_line(record, "vllm-v1", pid=3402897))
        else:
            lines.append(rng.choice(OTHER_LINES).format(t=when.strftime("%Y-%m-%d %H:%M:%S")))
    return lines


# The baseline people write first: one regex per field, all searched on every line.
NAIVE_FIELDS = {
    "timestamp": re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"),
    "new_seq": re.compile(r"#new-seq: (\d+)"),
    "new_token": re.compile(r"#new-token: (\d+)"),
    "cached_token": re.compile(r"#cached-token: (\d+)"),
    "token_usage": re.compile(r"token usage: ([\d.]+)"),
    "running_req": re.compile(r"#running-req: (\d+)"),
    "queue_req": re.compile(r"#queue-req: (\d+)"),
    "num_token": re.compile(r"#token: (\d+)"),
    "gen_throughput": re.compile(r"gen throughput \(token/s\): ([\d.]+)"),
    "input_throughput": re.compile(r"input throughput \(token/s\): ([\d.]+)"),
    "cache_hit_rate": re.compile(r"cache hit rate: ([\d.]+)%"),
    "cuda_graph": re.compile(r"(?:cuda|cpu) graph: (True|False)"),
    "prompt_throughput": re.compile(r"Avg prompt throughput: ([\d.]+)"),
    "vllm_gen_throughput": re.compile(r"Avg generation throughput: ([\d.]+)"),
    "vllm_running": re.compile(r"Running: (\d+) reqs"),
    "vllm_waiting": re.compile(r"Waiting: (\d+) reqs"),
    "vllm_kv": re.compile(r"GPU KV cache usage: ([\d.]+)%"),
    "access": re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})'),
}


def naive_parse(line: str) -> dict[str, Any] | None:
    found: dict[str, Any] = {}
    for name, pattern in NAIVE_FIELDS.items():
        match = pattern.search(line)
        if match:
            found[name] = match.groups() if name == "access" else match.group(1)
    if "timestamp" in found:
        found["timestamp"] = datetime.strptime(found["timestamp"], "%Y-%m-%d %H:%M:%S")
    return found if len(found) > 1 else None


def measure(lines: list[str], chunk: int = 10_000) -> dict[str, tuple[float, float, int]]:
    """Both parsers over the same lines, alternating chunks so a shared machine's changing load
    hits both alike. Returns name -> (wall seconds, CPU seconds, records)."""
    parsers = {"ours": parse_line, "naive": naive_parse}
    totals = {name: [0.0, 0.0, 0] for name in parsers}
    for start in range(0, len(lines), chunk):
        part = lines[start : start + chunk]
        for name, parse in parsers.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            found = sum(1 for line in part if parse(line) is not None)
            totals[name][0] += time.perf_counter() - wall
            totals[name][1] += time.thread_time() - cpu
            totals[name][2] += found
    return {name: (t[0], t[1], int(t[2])) for name, t in totals.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    lines = build_log(n)
    measure(lines[:20_000])  # warm caches and imports for both
    results = measure(lines)
    print(f"lines: {n:,} mixed (35% decode, 20% prefill, 25% access, 5% vLLM, 15% other)")
    labels = {"ours": "sgl_notebook.stats.parse_line", "naive": "naive one-regex-per-field"}
    for name, (wall, cpu, found) in results.items():
        print(
            f"{labels[name]:<30}: {n / wall:>10,.0f} lines/s wall, {n / cpu:>10,.0f} lines/s CPU "
            f"({found:,} records)"
        )
    ours, naive = results["ours"], results["naive"]
    print(f"ratio (ours / naive): {naive[0] / ours[0]:.2f}x wall, {naive[1] / ours[1]:.2f}x CPU")
    wall, cpu = ours[0] * AIM_LINES / n, ours[1] * AIM_LINES / n
    verdict = "met" if wall < AIM_SECONDS else "NOT met"
    print(
        f"aim: {AIM_LINES:,} lines in under {AIM_SECONDS:.0f} s: {wall:.1f} s wall "
        f"({cpu:.1f} s CPU): {verdict}"
    )


if __name__ == "__main__":
    main()
