"""SGLang's input-logprob layout, from the logits a runner returned for the prompt positions."""

from __future__ import annotations

import numpy as np

from .request_state import RequestState
from .sampling import log_softmax, token_ids_logprobs, top_logprobs


def record_input_logprobs(state: RequestState, prompt_logits: np.ndarray | None) -> None:
    """Fill a request's input logprob lists.

    prompt_logits: [n - 1 - start, V], the logits at prompt positions ``start .. n-2`` (each
    predicting the next prompt token), or None when ``start == n - 1``. The entry for position
    ``start`` has logprob None; later entries use the previous position's logits.
    """
    prompt = state.req.input_ids
    start, n = state.logprob_start, len(prompt)
    assert state.input_token_logprobs is not None
    state.input_token_logprobs.append(state.triple(None, prompt[start]))
    if state.input_top_logprobs is not None:
        state.input_top_logprobs.append(None)
    if state.input_token_ids_logprob is not None:
        state.input_token_ids_logprob.append(None)
    if start >= n - 1 or prompt_logits is None:
        return
    logprobs = log_softmax(prompt_logits.astype(np.float32))  # [n-1-start, V]
    targets = np.asarray(prompt[start + 1 :], dtype=np.int64)
    picked = logprobs[np.arange(len(targets)), targets].tolist()
    for token, lp in zip(prompt[start + 1 :], picked, strict=True):
        state.input_token_logprobs.append(state.triple(float(lp), token))
    for row in logprobs:
        if state.input_top_logprobs is not None:
            state.input_top_logprobs.append(
                state.triples(top_logprobs(row, state.req.top_logprobs_num))
            )
        if state.input_token_ids_logprob is not None:
            ids = state.req.token_ids_logprob or []
            state.input_token_ids_logprob.append(state.triples(token_ids_logprobs(row, ids)))
