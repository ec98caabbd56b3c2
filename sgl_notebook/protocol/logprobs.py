"""Token logprobs as the servers send them, read into one shape: :class:`TokenLogprob`.

Three layouts: OpenAI chat (``logprobs.content``: one dict per token with ``top_logprobs``),
OpenAI completions (parallel lists ``tokens`` / ``token_logprobs`` / ``top_logprobs`` dicts) and
SGLang's native ``meta_info`` (``[logprob, token_id, text]`` triples, cumulative while streaming).
A server sends ``null`` for a token it did not score: that reads as ``-inf``.

>>> chat_logprobs({"content": [{"token": "Hi", "logprob": -0.1, "top_logprobs": []}]})
[TokenLogprob(token='Hi', logprob=-0.1, top=())]
>>> completion_logprobs({"tokens": ["a"], "token_logprobs": [None], "top_logprobs": [{"a": -1}]})
[TokenLogprob(token='a', logprob=-inf, top=(('a', -1.0),))]
>>> native_logprobs({"output_token_logprobs": [[-0.5, 7, "Pa"]]}, start=0)
([TokenLogprob(token='Pa', logprob=-0.5, top=())], 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TokenLogprob", "chat_logprobs", "completion_logprobs", "native_logprobs"]


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its logprob and the top alternatives ``(token, logprob)``."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


def _logprob(value: Any) -> float:
    return float("-inf") if value is None else float(value)


def chat_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    """A chat choice's ``logprobs`` (None when it has no tokens)."""
    content = logprobs.get("content") if logprobs else None
    if not content:
        return None
    return [
        TokenLogprob(
            t["token"],
            _logprob(t.get("logprob")),
            tuple((a["token"], _logprob(a.get("logprob"))) for a in (t.get("top_logprobs") or ())),
        )
        for t in content
    ]


def completion_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    """A completion choice's ``logprobs`` (None when it has no tokens)."""
    if not logprobs or not logprobs.get("tokens"):
        return None
    tokens = logprobs["tokens"]
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    values = logprobs.get("token_logprobs") or [None] * len(tokens)
    return [
        TokenLogprob(
            tok, _logprob(lp), tuple((str(k), _logprob(v)) for k, v in (top or {}).items())
        )
        for tok, lp, top in zip(tokens, values, tops, strict=False)
    ]


def native_logprobs(meta: dict[str, Any], start: int) -> tuple[list[TokenLogprob], int]:
    """The tokens of a native ``meta_info`` from ``start`` on, and how many it holds in all."""
    tokens = meta.get("output_token_logprobs") or []
    tops = meta.get("output_top_logprobs") or [None] * len(tokens)
    out = [
        TokenLogprob(
            str(t[2]), _logprob(t[0]), tuple((str(a[2]), _logprob(a[0])) for a in (top or ()))
        )
        for t, top in zip(tokens[start:], tops[start:], strict=False)
    ]
    return out, len(tokens)
