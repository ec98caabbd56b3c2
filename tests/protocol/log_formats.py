"""Scheduler stats lines written the way each SGLang / vLLM release writes them.

The inverse of the parsers in ``sgl_notebook.protocol`` (``logs``, ``vllm_logs``, ``access_logs``):
tests check that a formatted record parses back to itself, and the benchmarks build realistic
mixed logs. 0.4.10 reuses ``sgl_notebook.protocol.sglang_format`` (the CPU engine's own
formatter).

Dialects (``SGLANG_DIALECTS`` / ``VLLM_DIALECTS``):

* ``sglang-legacy``: early 2025, ``[T TP0] Prefill batch. …, cache hit rate: 0.00%, …``
* ``sglang-0.4.10``: trailing ``", "``
* ``sglang-0.5.4``: ``Prefill batch [N], …`` and trailing ``", "``
* ``sglang-0.5.23``: ``Prefill batch, …`` with ``#pending-token``, ``cuda graph`` and
  ``input throughput``; no trailing separator; ``[T.mmm]`` when the record has microseconds
* ``vllm-v1`` (``(APIServer pid=N) INFO … Engine 000: …``) and ``vllm-v0``
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sgl_notebook.protocol import sglang_format
from sgl_notebook.protocol.logs import SchedulerStats

__all__ = [
    "SGLANG_DIALECTS",
    "VLLM_DIALECTS",
    "format_access_line",
    "format_sglang_batch_line",
    "format_vllm_stats_line",
]

SGLANG_DIALECTS = ("sglang-legacy", "sglang-0.4.10", "sglang-0.5.4", "sglang-0.5.23")
VLLM_DIALECTS = ("vllm-v1", "vllm-v0")


def _sglang_prefix(when: datetime | None, source: str = "", ms: bool = False) -> str:
    if when is None:
        return ""
    stamp = when.strftime("%Y-%m-%d %H:%M:%S")
    if ms:
        stamp += f".{when.microsecond // 1000:03d}"
    tags = f" {source}" if source else ""
    return f"[{stamp}{tags}] "


def _prefill_parts(r: SchedulerStats) -> list[str]:
    return [
        f"#new-seq: {r.new_seq}",
        f"#new-token: {r.new_token}",
        f"#cached-token: {r.cached_token}",
    ]


def _engine_line(r: SchedulerStats) -> str:
    """The line the CPU engine writes (SGLang 0.4.10's fields), without a timestamp."""
    if r.kind == "prefill":
        return sglang_format.format_prefill_batch(
            new_seq=r.new_seq or 0,
            new_token=r.new_token or 0,
            cached_token=r.cached_token or 0,
            token_usage=r.token_usage or 0.0,
            running_req=r.running_req or 0,
            queue_req=r.queue_req or 0,
        )
    return sglang_format.format_decode_batch(
        running_req=r.running_req or 0,
        num_token=r.num_token or 0,
        token_usage=r.token_usage or 0.0,
        gen_throughput=r.gen_throughput or 0.0,
        queue_req=r.queue_req or 0,
        cuda_graph=bool(r.cuda_graph),
    )


def _head(r: SchedulerStats) -> str:
    return "Prefill batch" if r.kind == "prefill" else "Decode batch"


def _format_0410(r: SchedulerStats) -> str:
    return _sglang_prefix(r.timestamp, r.source) + _engine_line(r)


def _format_054(r: SchedulerStats) -> str:
    # same fields as 0.4.10; only the head changes: "Prefill batch [12], "
    body = _engine_line(r).split(". ", 1)[1]
    return f"{_sglang_prefix(r.timestamp, r.source)}{_head(r)} [{r.iteration or 0}], {body}"


def _format_legacy(r: SchedulerStats) -> str:
    prefix = _sglang_prefix(r.timestamp, r.source or "TP0")
    if r.kind == "prefill":
        parts = _prefill_parts(r) + [
            f"cache hit rate: {100 * (r.cache_hit_rate or 0.0):.2f}%",
            f"token usage: {r.token_usage or 0.0:.2f}",
            f"#running-req: {r.running_req}",
            f"#queue-req: {r.queue_req}",
        ]
    else:
        parts = [
            f"#running-req: {r.running_req}",
            f"#token: {r.num_token}",
            f"token usage: {r.token_usage or 0.0:.2f}",
            f"gen throughput (token/s): {r.gen_throughput or 0.0:.2f}",
            f"#queue-req: {r.queue_req}",
        ]
    return f"{prefix}{_head(r)}. " + ", ".join(parts)


def _format_0523(r: SchedulerStats) -> str:
    prefix = _sglang_prefix(r.timestamp, r.source, ms=bool(r.timestamp and r.timestamp.microsecond))
    graph = f"cuda graph: {bool(r.cuda_graph)}"
    if r.kind == "prefill":
        parts = _prefill_parts(r) + [
            f"token usage: {r.token_usage or 0.0:.2f}",
            f"#running-req: {r.running_req}",
            f"#queue-req: {r.queue_req}",
            f"#pending-token: {r.raw.get('#pending-token', '0')}",
            graph,
            f"input throughput (token/s): {r.input_throughput or 0.0:.2f}",
        ]
    else:
        parts = [
            f"#running-req: {r.running_req}",
            f"#token: {r.num_token}",
            f"token usage: {r.token_usage or 0.0:.2f}",
            graph,
            f"gen throughput (token/s): {r.gen_throughput or 0.0:.2f}",
            f"#queue-req: {r.queue_req}",
        ]
    iteration = f" [{r.iteration}]" if r.iteration is not None else ""
    return f"{prefix}{_head(r)}{iteration}, " + ", ".join(parts)


_SGLANG_FORMATTERS: dict[str, Callable[[SchedulerStats], str]] = {
    "sglang-legacy": _format_legacy,
    "sglang-0.4.10": _format_0410,
    "sglang-0.5.4": _format_054,
    "sglang-0.5.23": _format_0523,
}


def format_sglang_batch_line(record: SchedulerStats, dialect: str) -> str:
    """A prefill/decode record as one log line of ``dialect`` (see the module docstring)."""
    formatter = _SGLANG_FORMATTERS.get(dialect)
    if formatter is None:
        raise ValueError(f"unknown SGLang log dialect {dialect!r}; use one of {SGLANG_DIALECTS}")
    return formatter(record)


def format_vllm_stats_line(record: SchedulerStats, dialect: str = "vllm-v1", pid: int = 0) -> str:
    """A ``kind="vllm"`` record as vLLM's periodic stats line (``vllm-v1`` or ``vllm-v0``)."""
    r = record
    stamp = r.timestamp.strftime("%m-%d %H:%M:%S") if r.timestamp else "01-01 00:00:00"
    usage = f"GPU KV cache usage: {100 * (r.token_usage or 0.0):.1f}%"
    head = (
        f"Avg prompt throughput: {r.prompt_throughput or 0.0:.1f} tokens/s, "
        f"Avg generation throughput: {r.gen_throughput or 0.0:.1f} tokens/s, "
        f"Running: {r.running_req} reqs, "
    )
    if dialect == "vllm-v1":
        process = f"(APIServer pid={pid}) " if pid else ""
        engine = f"{r.source}: " if r.source else ""
        return (
            f"{process}INFO {stamp} [loggers.py:310] {engine}{head}Waiting: {r.queue_req} reqs, "
            f"{usage}, Prefix cache hit rate: {100 * (r.cache_hit_rate or 0.0):.1f}%"
        )
    if dialect == "vllm-v0":
        return (
            f"INFO {stamp} metrics.py:345] {head}Swapped: 0 reqs, Pending: {r.queue_req} reqs, "
            f"{usage}, CPU KV cache usage: 0.0%."
        )
    raise ValueError(f"unknown vLLM log dialect {dialect!r}; use one of {VLLM_DIALECTS}")


def format_access_line(
    method: str,
    path: str,
    status: int,
    when: datetime | None = None,
    client: str = "127.0.0.1:51234",
) -> str:
    """SGLang's reformatted uvicorn access line (status phrase as uvicorn prints it for 200)."""
    phrase = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
    return (
        f'{_sglang_prefix(when)}INFO:     {client} - "{method} {path} HTTP/1.1" {status} '
        f"{phrase.get(status, '')}"
    ).rstrip()
