"""Sampling: SGLang 0.4.10's parameter checks, and pure functions on a batch of logits.

Shapes: ``logits`` is ``[B, V]`` float32 numpy; per-row parameters are ``[B]`` arrays.
The order follows SGLang's sampler: penalties and logit bias, grammar mask (done by the caller),
then greedy argmax for rows with temperature ~0, otherwise temperature -> softmax ->
top-k / top-p / min-p -> multinomial. Output logprobs are ``log_softmax(logits / T)`` (T = 1 for
greedy rows), as SGLang reports them.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from .types import SamplingParams

SAMPLING_EPS = 1e-6  # SGLang's _SAMPLING_EPS: a temperature below this means greedy
TOP_K_ALL = 1 << 30

_PARAM_NAMES = [f.name for f in fields(SamplingParams)]


def _unexpected_keyword(name: str) -> TypeError:
    # The message Python gives for SGLang 0.4.10's ``SamplingParams(**d)``.
    return TypeError(f"SamplingParams.__init__() got an unexpected keyword argument '{name}'")


def validate_sampling_params(
    params: dict[str, Any] | None, vocab_size: int | None = None
) -> SamplingParams:
    """Check a request's ``sampling_params`` as SGLang 0.4.10 does and return them typed.

    Raises ``TypeError`` for an unknown key (as ``SamplingParams(**d)`` does) and ``ValueError``
    with SGLang's own message for a bad value (``verify()``), e.g.
    ``top_p must be in (0, 1], got 0.0.``. ``stop`` may be a string or a list.
    """
    given = dict(params or {})
    for name in given:
        if name not in _PARAM_NAMES:
            raise _unexpected_keyword(name)
    sp = SamplingParams()
    for name, value in given.items():
        setattr(sp, name, value)
    # Optional list fields arrive as null from many clients (the sglang frontend sends them).
    if sp.stop is None:
        sp.stop = []
    elif isinstance(sp.stop, str):
        sp.stop = [sp.stop]
    else:
        sp.stop = list(sp.stop)
    sp.stop_token_ids = list(sp.stop_token_ids or [])
    _verify(sp, vocab_size)
    return sp


def _verify(sp: SamplingParams, vocab_size: int | None) -> None:
    """SGLang's ``SamplingParams.__init__`` special cases, then ``verify()``, same messages."""
    temperature, top_k = sp.temperature, sp.top_k
    if 0 <= temperature < SAMPLING_EPS:
        temperature, top_k = 1.0, 1
    if top_k == -1:
        top_k = TOP_K_ALL
    if temperature < 0.0:
        raise ValueError(f"temperature must be non-negative, got {temperature}.")
    if not 0.0 < sp.top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {sp.top_p}.")
    if not 0.0 <= sp.min_p <= 1.0:
        raise ValueError(f"min_p must be in [0, 1], got {sp.min_p}.")
    if top_k < 1 or top_k == -1:
        raise ValueError(f"top_k must be -1 (disable) or at least 1, got {top_k}.")
    if not -2.0 <= sp.frequency_penalty <= 2.0:
        raise ValueError(f"frequency_penalty must be in [-2, 2], got {sp.frequency_penalty}.")
    if not -2.0 <= sp.presence_penalty <= 2.0:
        raise ValueError(f"presence_penalty must be in [-2, 2], got {sp.presence_penalty}.")
    if not 0.0 <= sp.repetition_penalty <= 2.0:
        raise ValueError(f"repetition_penalty must be in [0, 2], got {sp.repetition_penalty}.")
    if not sp.min_new_tokens >= 0:
        raise ValueError(f"min_new_tokens must be in [0, max_new_tokens], got {sp.min_new_tokens}.")
    if sp.max_new_tokens is not None:
        if sp.max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be at least 0, got {sp.max_new_tokens}.")
        if not sp.min_new_tokens <= sp.max_new_tokens:
            raise ValueError(
                f"min_new_tokens must be in [0, max_new_tokens({sp.max_new_tokens})], got "
                f"{sp.min_new_tokens}."
            )
    if sp.logit_bias is not None and vocab_size is not None:
        for token_id in sp.logit_bias:
            if not 0 <= int(token_id) < vocab_size:
                raise ValueError(
                    f"logit_bias must has keys in [0, {vocab_size - 1}], got {token_id}."
                )
    grammars = [sp.json_schema, sp.regex, sp.ebnf]
    if sum(x is not None for x in grammars) > 1:
        raise ValueError("Only one of regex, json_schema, or ebnf can be set.")


def is_greedy(sp: SamplingParams) -> bool:
    """Temperature below 1e-6, or top_k 1, means argmax (SGLang maps the first onto the second)."""
    return (0 <= sp.temperature < SAMPLING_EPS) or sp.top_k == 1


def apply_penalties(
    logits: np.ndarray,
    output_counts: np.ndarray,
    seen_mask: np.ndarray,
    frequency: np.ndarray,
    presence: np.ndarray,
    repetition: np.ndarray,
) -> np.ndarray:
    """Frequency/presence penalties on generated tokens (SGLang's penaltylib) and the usual
    repetition penalty on every token seen (prompt and output), in place.

    output_counts: [B, V] count of each token in the output; seen_mask: [B, V] bool.
    frequency, presence, repetition: [B].
    """
    logits -= frequency[:, None] * output_counts
    logits -= presence[:, None] * (output_counts > 0).astype(logits.dtype)
    if bool((repetition != 1.0).any()):
        rep = np.broadcast_to(repetition[:, None], logits.shape)
        penalised = np.where(logits > 0, logits / rep, logits * rep)
        np.copyto(logits, np.where(seen_mask, penalised, logits))
    return logits


def apply_logit_bias(logits: np.ndarray, row: int, bias: dict[str, float]) -> None:
    """Add an OpenAI-style ``{"token_id": bias}`` map to one row, in place."""
    for token_id, value in bias.items():
        logits[row, int(token_id)] += float(value)


def suppress_tokens(logits: np.ndarray, row: int, token_ids: list[int]) -> None:
    """Forbid tokens in one row (EOS and stop ids before ``min_new_tokens`` is reached)."""
    if token_ids:
        logits[row, token_ids] = -np.inf


def log_softmax(x: np.ndarray) -> np.ndarray:
    """``log_softmax`` over the last axis, in float32 (``-inf`` entries stay ``-inf``)."""
    peak = np.max(x, axis=-1, keepdims=True)
    shifted = x - peak
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _sample_row(
    logprobs: np.ndarray, top_k: int, top_p: float, min_p: float, rng: np.random.Generator
) -> int:
    """One draw from a row's distribution after top-k, top-p and min-p (SGLang's order)."""
    probs = np.exp(logprobs)
    k = min(top_k, probs.shape[-1])
    everything = np.arange(probs.shape[-1])
    idx = np.argpartition(-probs, k - 1)[:k] if k < probs.shape[-1] else everything
    order = idx[np.argsort(-probs[idx], kind="stable")]
    kept = probs[order].astype(np.float64)
    cumulative = np.cumsum(kept)
    kept[(cumulative - kept) > top_p] = 0.0
    kept[kept < kept[0] * min_p] = 0.0
    total = kept.sum()
    if total <= 0:
        return int(order[0])
    return int(order[rng.choice(len(kept), p=kept / total)])


def sample_next_tokens(
    logits: np.ndarray,
    temperatures: np.ndarray,
    top_ks: np.ndarray,
    top_ps: np.ndarray,
    min_ps: np.ndarray,
    greedy: np.ndarray,
    rng: np.random.Generator | None = None,
    need_logprobs: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pick one token per row; return ``(token_ids [B], logprobs [B, V] or None)``.

    greedy: [B] bool; temperatures for greedy rows are ignored (treated as 1 for logprobs).
    Logprobs are skipped when every row is greedy and none asked for them.
    """
    next_ids = np.argmax(logits, axis=-1)
    all_greedy = bool(greedy.all())
    if all_greedy and not need_logprobs:
        return next_ids, None
    temps = np.where(greedy, 1.0, temperatures).astype(logits.dtype)
    logprobs = log_softmax(logits / temps[:, None])
    if all_greedy:
        return next_ids, logprobs
    rng = rng or default_rng()
    for row in np.flatnonzero(~greedy):
        next_ids[row] = _sample_row(
            logprobs[row], int(top_ks[row]), float(top_ps[row]), float(min_ps[row]), rng
        )
    return next_ids, logprobs


_RNG: list[np.random.Generator] = []


def default_rng() -> np.random.Generator:
    """The engine's random generator (seeded by ``seed_sampling``)."""
    if not _RNG:
        _RNG.append(np.random.default_rng())
    return _RNG[0]


def seed_sampling(seed: int) -> None:
    """``--random-seed``: make sampled outputs reproducible."""
    _RNG[:] = [np.random.default_rng(seed)]


def top_logprobs(logprobs_row: np.ndarray, k: int) -> list[tuple[float, int]]:
    """The ``k`` most likely tokens of one position as ``(logprob, token_id)``, best first."""
    if k <= 0:
        return []
    k = min(k, logprobs_row.shape[-1])
    idx = np.argpartition(-logprobs_row, k - 1)[:k]
    idx = idx[np.argsort(-logprobs_row[idx], kind="stable")]
    return [(float(logprobs_row[i]), int(i)) for i in idx]


def token_ids_logprobs(logprobs_row: np.ndarray, token_ids: list[int]) -> list[tuple[float, int]]:
    """Logprobs of the given token ids at one position, in the given order."""
    return [(float(logprobs_row[t]), int(t)) for t in token_ids]


def top_k_for(sp: SamplingParams) -> int:
    """The effective top_k (``-1`` means the whole vocabulary)."""
    return TOP_K_ALL if sp.top_k in (-1, None) else int(sp.top_k)


__all__ = [
    "SAMPLING_EPS",
    "apply_logit_bias",
    "apply_penalties",
    "is_greedy",
    "log_softmax",
    "sample_next_tokens",
    "seed_sampling",
    "suppress_tokens",
    "token_ids_logprobs",
    "top_k_for",
    "top_logprobs",
    "validate_sampling_params",
]
