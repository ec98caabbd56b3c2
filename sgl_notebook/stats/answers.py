"""A finished answer's own numbers -> :meth:`ServerStats.add_answer` (short answers' token/s).

SGLang logs a decode line every 40 decode steps, so an answer shorter than that has no logged
rate at all; its own usage and timing give one. Works on what the toolkit's requests return:
a ``GenerateResult`` (``meta_info.completion_tokens`` / ``e2e_latency``), a ``ChatResult``
(``usage.completion_tokens``, with the seconds the call took) or a ``%%sgl`` ``SglResult``
(``tokens``, ``elapsed``, ``ttft``).

>>> answer_numbers(type("R", (), {"meta_info": {"completion_tokens": 8, "e2e_latency": 2.0}})())
(8, 2.0, None)
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["answer_numbers", "note_answer"]


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def answer_numbers(
    result: Any, seconds: float | None = None
) -> tuple[int | None, float | None, float | None]:
    """(completion tokens, seconds end to end, time to first token) of one answer."""
    meta = getattr(result, "meta_info", None)
    if isinstance(meta, dict):
        return _int(meta.get("completion_tokens")), _float(meta.get("e2e_latency")) or seconds, None
    if hasattr(result, "elapsed") and hasattr(result, "tokens"):  # a %%sgl SglResult
        return _int(result.tokens), _float(result.elapsed) or seconds, _float(result.ttft)
    usage = getattr(result, "usage", None)
    if isinstance(usage, dict):
        return _int(usage.get("completion_tokens")), seconds, None
    return None, seconds, None


def note_answer(stats: Any, result: Any, seconds: float | None = None) -> None:
    """Tell ``stats`` about one finished answer (or a list of them); never raises."""
    answers = result if isinstance(result, list) else [result]
    for answer in answers:
        tokens, elapsed, ttft = answer_numbers(answer, seconds)
        with contextlib.suppress(Exception):
            stats.add_answer(tokens, elapsed, ttft)
