"""One sampling step for a batch of requests: penalties, bias, grammar mask, sampling, logprobs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .request_state import RequestState
from .sampling import (
    apply_logit_bias,
    apply_penalties,
    is_greedy,
    sample_next_tokens,
    suppress_tokens,
    token_ids_logprobs,
    top_k_for,
    top_logprobs,
)


def _penalise(rows: list[RequestState], logits: np.ndarray) -> None:
    b, v = logits.shape
    counts = np.zeros((b, v), dtype=logits.dtype)
    seen = np.zeros((b, v), dtype=bool)
    for i, r in enumerate(rows):
        if r.output_ids:
            ids = np.clip(np.asarray(r.output_ids, dtype=np.int64), 0, v - 1)
            counts[i] = np.bincount(ids, minlength=v)[:v]
            seen[i, ids] = True
        seen[i, np.clip(np.asarray(r.req.input_ids, dtype=np.int64), 0, v - 1)] = True
    sp = [r.sampling for r in rows]
    apply_penalties(
        logits,
        counts,
        seen,
        np.array([s.frequency_penalty for s in sp], dtype=logits.dtype),
        np.array([s.presence_penalty for s in sp], dtype=logits.dtype),
        np.array([s.repetition_penalty for s in sp], dtype=logits.dtype),
    )


def record_output_logprobs(state: RequestState, logprobs_row: np.ndarray, token: int) -> None:
    """Append the chosen token's logprob (and top / requested ids) to a request's output lists."""
    if not state.req.return_logprob or state.output_token_logprobs is None:
        return
    state.output_token_logprobs.append(state.triple(float(logprobs_row[token]), token))
    if state.output_top_logprobs is not None:
        top = top_logprobs(logprobs_row, state.req.top_logprobs_num)
        state.output_top_logprobs.append(state.triples(top))
    if state.output_token_ids_logprob is not None:
        ids = state.req.token_ids_logprob or []
        state.output_token_ids_logprob.append(state.triples(token_ids_logprobs(logprobs_row, ids)))


def sample_rows(rows: list[RequestState], logits: np.ndarray, grammar: Any) -> list[int]:
    """Pick the next token of every row (logits: [B, V], modified in place); record logprobs."""
    sps = [r.sampling for r in rows]
    if any(s.frequency_penalty or s.presence_penalty or s.repetition_penalty != 1.0 for s in sps):
        _penalise(rows, logits)
    for i, r in enumerate(rows):
        if r.sampling.logit_bias:
            apply_logit_bias(logits, i, r.sampling.logit_bias)
        suppress_tokens(logits, i, r.stop_ids_before_min())
    if grammar is not None:
        matchers = {
            i: r.matcher
            for i, r in enumerate(rows)
            if r.matcher is not None and not r.matcher.is_terminated()
        }
        grammar.mask_logits(logits, matchers)
    greedy = np.array([is_greedy(s) for s in sps], dtype=bool)
    tokens, logprobs = sample_next_tokens(
        logits,
        temperatures=np.array([float(s.temperature) for s in sps], dtype=logits.dtype),
        top_ks=np.array([min(top_k_for(s), logits.shape[-1]) for s in sps]),
        top_ps=np.array([float(s.top_p) for s in sps], dtype=logits.dtype),
        min_ps=np.array([float(s.min_p) for s in sps], dtype=logits.dtype),
        greedy=greedy,
        need_logprobs=any(r.req.return_logprob for r in rows),
    )
    chosen = [int(t) for t in tokens.tolist()]
    if logprobs is not None:
        for i, r in enumerate(rows):
            record_output_logprobs(r, logprobs[i], chosen[i])
    return chosen
