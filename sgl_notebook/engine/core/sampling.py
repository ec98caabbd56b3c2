"""Sampling: SGLang 0.4.10's parameter checks, and pure functions on a batch of logits.

Shapes: ``logits`` is ``[B, V]`` float32; per-row parameters are ``[B]`` tensors.
The order follows SGLang's sampler: penalties and logit bias, grammar mask (done by the caller),
then greedy argmax for rows with temperature ~0, otherwise temperature -> softmax ->
top-k / top-p / min-p -> multinomial. Output logprobs are ``log_softmax(logits / T)`` (T = 1 for
greedy rows), as SGLang reports them.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch

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
    logits: torch.Tensor,
    output_counts: torch.Tensor,
    seen_mask: torch.Tensor,
    frequency: torch.Tensor,
    presence: torch.Tensor,
    repetition: torch.Tensor,
) -> torch.Tensor:
    """Frequency/presence penalties on generated tokens (SGLang's penaltylib) and the usual
    repetition penalty on every token seen (prompt and output), in place.

    output_counts: [B, V] count of each token in the output; seen_mask: [B, V] bool.
    frequency, presence, repetition: [B].
    """
    logits.sub_(frequency[:, None] * output_counts)
    logits.sub_(presence[:, None] * (output_counts > 0).to(logits.dtype))
    if bool((repetition != 1.0).any()):
        rep = repetition[:, None].expand_as(logits)
        penalised = torch.where(logits > 0, logits / rep, logits * rep)
        logits.copy_(torch.where(seen_mask, penalised, logits))
    return logits


def apply_logit_bias(logits: torch.Tensor, row: int, bias: dict[str, float]) -> None:
    """Add an OpenAI-style ``{"token_id": bias}`` map to one row, in place."""
    for token_id, value in bias.items():
        logits[row, int(token_id)] += float(value)


def suppress_tokens(logits: torch.Tensor, row: int, token_ids: list[int]) -> None:
    """Forbid tokens in one row (EOS and stop ids before ``min_new_tokens`` is reached)."""
    if token_ids:
        logits[row, token_ids] = float("-inf")


def sample_next_tokens(
    logits: torch.Tensor,
    temperatures: torch.Tensor,
    top_ks: torch.Tensor,
    top_ps: torch.Tensor,
    min_ps: torch.Tensor,
    greedy: torch.Tensor,
    generator: torch.Generator | None = None,
    need_logprobs: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pick one token per row; return ``(token_ids [B], logprobs [B, V] or None)``.

    greedy: [B] bool; temperatures for greedy rows are ignored (treated as 1 for logprobs).
    Logprobs are skipped when every row is greedy and none asked for them.
    """
    next_ids = torch.argmax(logits, dim=-1)
    all_greedy = bool(greedy.all())
    if all_greedy and not need_logprobs:
        return next_ids, None
    temps = torch.where(greedy, torch.ones_like(temperatures), temperatures)
    logprobs = torch.log_softmax(logits / temps[:, None], dim=-1)
    if all_greedy:
        return next_ids, logprobs
    probs = logprobs.exp()
    probs_sort, probs_idx = probs.sort(dim=-1, descending=True)
    ranks = torch.arange(probs.shape[-1]).view(1, -1)
    probs_sort[ranks >= top_ks.view(-1, 1)] = 0.0
    cumulative = torch.cumsum(probs_sort, dim=-1)
    probs_sort[(cumulative - probs_sort) > top_ps.view(-1, 1)] = 0.0
    thresholds = probs_sort[:, :1] * min_ps.view(-1, 1)
    probs_sort[probs_sort < thresholds] = 0.0
    probs_sort[:, 0] = torch.where(probs_sort.sum(-1) > 0, probs_sort[:, 0], 1.0)
    choice = torch.multinomial(probs_sort, num_samples=1, generator=generator)
    sampled = torch.gather(probs_idx, 1, choice).squeeze(1)
    return torch.where(greedy, next_ids, sampled), logprobs


def top_logprobs(logprobs_row: torch.Tensor, k: int) -> list[tuple[float, int]]:
    """The ``k`` most likely tokens of one position as ``(logprob, token_id)``, best first."""
    if k <= 0:
        return []
    values, indices = torch.topk(logprobs_row, k=min(k, logprobs_row.shape[-1]))
    return [(float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist(), strict=True)]


def token_ids_logprobs(logprobs_row: torch.Tensor, token_ids: list[int]) -> list[tuple[float, int]]:
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
    "sample_next_tokens",
    "suppress_tokens",
    "token_ids_logprobs",
    "top_k_for",
    "top_logprobs",
    "validate_sampling_params",
]
