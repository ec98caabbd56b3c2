"""SGLang's ``Prefill batch`` / ``Decode batch`` scheduler lines, every dialect, as typed records.

Pure and stdlib only. A line becomes a :class:`SchedulerStats` (or ``None``); nothing here raises.
The body is read as ``key: value`` pairs split on ``", "`` -- never by position -- because the
fields, their order and the punctuation moved between releases (reference §1.2-1.3):

* older releases: ``[T TP0] Prefill batch. …, cache hit rate: 12.50%, …`` (rank tag, no trailing
  separator),
* 0.4.10: ``[T] Prefill batch. …, #queue-req: 0, `` (trailing ``", "``),
* 0.5.4: ``Prefill batch [12], …`` (iteration counter),
* 0.5.23: ``Prefill batch, …, cuda graph: False, input throughput (token/s): 0.00`` (comma head),
* SWA / Mamba / speculative / PD variants, and ``[T.mmm]`` timestamps (``SGLANG_LOG_MS``).

>>> r = parse_sglang_batch_line("[2025-07-28 04:59:51] Decode batch. #running-req: 3, #token: 64, "
...     "token usage: 0.01, cuda graph: False, gen throughput (token/s): 5.96, #queue-req: 0, ")
>>> (r.kind, r.running_req, r.num_token, r.token_usage, r.gen_throughput, r.cuda_graph)
('decode', 3, 64, 0.01, 5.96, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "SchedulerStats",
    "parse_sglang_batch_line",
    "parse_sglang_timestamp",
    "percent_to_fraction",
    "split_pairs",
    "typed_values",
]


@dataclass(frozen=True, slots=True)
class SchedulerStats:
    """One scheduler stats line: an SGLang prefill or decode batch, or vLLM's periodic line.

    ``kind`` is ``"prefill"``, ``"decode"`` or ``"vllm"``; ``raw`` holds every ``key: value`` as
    logged (unknown keys included); the typed fields follow SGLang's keys in snake case and are
    ``None`` where the line does not carry them. Fractions (``token_usage``, ``cache_hit_rate``)
    are 0-1 even where the log prints a percentage.
    """

    kind: str
    timestamp: datetime | None
    raw: Mapping[str, str] = field(default_factory=dict)
    new_seq: int | None = None
    new_token: int | None = None
    cached_token: int | None = None
    token_usage: float | None = None
    running_req: int | None = None
    queue_req: int | None = None
    num_token: int | None = None
    gen_throughput: float | None = None
    input_throughput: float | None = None
    prompt_throughput: float | None = None
    cache_hit_rate: float | None = None
    cuda_graph: bool | None = None
    accept_len: float | None = None
    accept_rate: float | None = None
    full_token_usage: float | None = None
    swa_token_usage: float | None = None
    mamba_usage: float | None = None
    gpu_token_usage: float | None = None
    cpu_token_usage: float | None = None
    iteration: int | None = None
    source: str = ""  # rank tags ("TP0", "DP1 TP0") or vLLM's engine head ("Engine 000")


def percent_to_fraction(text: str) -> float:
    """``"12.50%"`` -> ``0.125`` (rounded to 6 places so a logged value maps to one float)."""
    return round(float(text.rstrip("%")) / 100.0, 6)


# A dialect's keys: logged key -> (record field, converter raising ValueError on text it rejects).
Converters = Mapping[str, tuple[str, Callable[[str], Any]]]

_BOOLS = {"True": True, "False": False}
_GRAPH_SUFFIX = " graph"  # "cuda graph: True", "cpu graph: False", "npu graph: ..."

# SGLang's keys
_KEYS: Converters = {
    "#new-seq": ("new_seq", int),
    "#new-token": ("new_token", int),
    "#cached-token": ("cached_token", int),
    "token usage": ("token_usage", float),
    "#running-req": ("running_req", int),
    "#queue-req": ("queue_req", int),
    "#token": ("num_token", int),
    "gen throughput (token/s)": ("gen_throughput", float),
    "input throughput (token/s)": ("input_throughput", float),
    "cache hit rate": ("cache_hit_rate", percent_to_fraction),
    "accept len": ("accept_len", float),  # speculative decoding
    "accept rate": ("accept_rate", float),
    "full token usage": ("full_token_usage", float),  # SWA / Mamba hybrids
    "swa token usage": ("swa_token_usage", float),
    "mamba usage": ("mamba_usage", float),
    "gpu token usage": ("gpu_token_usage", float),  # HiSparse (0.5.x)
    "cpu token usage": ("cpu_token_usage", float),
}
# Keys that stand in for a plain one the line lacks (SWA/Mamba "full token usage", HiSparse
# "gpu token usage"): they only fill a field the plain key did not.
_FALLBACK_KEYS: Converters = {
    "full token usage": ("token_usage", float),
    "#full token": ("num_token", int),
    "gpu token usage": ("token_usage", float),
    "#gpu token": ("num_token", int),
}

_PREFIX = re.compile(
    r"\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d{1,6}))?((?: [A-Za-z_]+\d+)*)\] ?$"
)
_HEAD_ITERATION = re.compile(r" \[(\d+)\]")


# Lines logged in the same second share their prefix: remember the last few conversions.
_PREFIX_CACHE: dict[str, tuple[datetime | None, str]] = {}
_PREFIX_CACHE_SIZE = 256


def parse_sglang_timestamp(prefix: str) -> tuple[datetime | None, str]:
    """Read ``[2025-07-28 04:59:51.123 DP0 TP1] `` at the end of ``prefix``: (time, rank tags).

    Returns ``(None, "")`` when the prefix is not SGLang's (a custom logging config, say).
    """
    cached = _PREFIX_CACHE.get(prefix)
    if cached is not None:
        return cached
    result = _convert_prefix(prefix)
    if len(_PREFIX_CACHE) >= _PREFIX_CACHE_SIZE:
        _PREFIX_CACHE.clear()
    _PREFIX_CACHE[prefix] = result
    return result


def _convert_prefix(prefix: str) -> tuple[datetime | None, str]:
    match = _PREFIX.search(prefix)
    if match is None:
        return None, ""
    year, month, day, hour, minute, second, fraction, ranks = match.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    try:
        when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:  # "2025-13-45": not a date, so not a timestamp
        return None, ""
    return when, ranks.strip() if ranks else ""


def split_pairs(body: str) -> list[tuple[str, str]]:
    """A ``key: value, …`` body as (key, value) pairs in body order, duplicates kept.

    Each ``", "``-separated part splits on its last ``": "``; a part without one is a key with an
    empty value, and an empty part is skipped.

    >>> split_pairs("a: 1, b c: 2, flag, ")
    [('a', '1'), ('b c', '2'), ('flag', '')]
    """
    pairs: list[tuple[str, str]] = []
    for part in body.split(", "):
        key, sep, value = part.rpartition(": ")
        if sep:
            pairs.append((key, value))
        elif part.strip():
            pairs.append((part.strip(), ""))
    return pairs


def typed_values(pairs: Iterable[tuple[str, str]], keys: Converters) -> dict[str, Any]:
    """The record fields that ``pairs`` fill through ``keys``, in order (a later key wins).

    A value its converter rejects fills nothing; the caller keeps it in ``raw`` as logged.
    """
    values: dict[str, Any] = {}
    for key, text in pairs:
        spec = keys.get(key)
        if spec is None:
            continue
        try:
            values[spec[0]] = spec[1](text)
        except ValueError:
            continue
    return values


def _read_body(body: str) -> tuple[dict[str, str], dict[str, Any]]:
    """An SGLang batch body: its pairs as logged, and the typed record fields they fill."""
    parts = split_pairs(body)
    pairs = dict(parts)
    values = typed_values(parts, _KEYS)
    for key, text in parts:
        if text in _BOOLS and key.endswith(_GRAPH_SUFFIX) and key not in _KEYS:
            values["cuda_graph"] = _BOOLS[text]
    # SWA/Mamba/HiSparse lines: "full token usage" stands in for a "token usage" they lack
    for key, (name, convert) in _FALLBACK_KEYS.items():
        if key in pairs and name not in values:
            try:
                values[name] = convert(pairs[key])
            except ValueError:
                continue
    return pairs, values


def parse_sglang_batch_line(line: str) -> SchedulerStats | None:
    """An SGLang ``Prefill batch`` / ``Decode batch`` line -> :class:`SchedulerStats`, or None."""
    at = line.find(" batch")
    if at < 0:
        return None
    if line.startswith("Prefill", at - 7):
        kind, start = "prefill", at - 7
    elif line.startswith("Decode", at - 6):
        kind, start = "decode", at - 6
    else:
        return None
    end = at + 6  # of the head so far
    iteration: int | None = None
    if line.startswith(" [", end):
        match = _HEAD_ITERATION.match(line, end)
        if match is None:
            return None
        iteration = int(match.group(1))
        end = match.end()
    if line[end : end + 2] not in (". ", ", "):
        return None
    body = line[end + 2 :].rstrip()
    if body.endswith(","):
        body = body[:-1]
    if start > 0:
        timestamp, source = parse_sglang_timestamp(line[:start])
    else:
        timestamp, source = None, ""
    pairs, values = _read_body(body)
    if not pairs:
        return None
    try:
        return SchedulerStats(
            kind=kind,
            timestamp=timestamp,
            raw=pairs,
            iteration=iteration,
            source=source,
            **values,
        )
    except (TypeError, ValueError):  # defensive: a record must never make parsing raise
        return None
