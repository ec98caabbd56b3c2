"""One prefill batch: every admitted prompt in a single forward pass, reusing cached prefixes.

Layout of the batch (per row): ``[pad | cached prefix KV | pad | uncomputed suffix]``. Cached
prefixes are left-padded to the longest hit, suffixes to the longest suffix; the attention mask
hides the padding and positions are explicit, so holes in the middle are harmless. Identical
prompts in one batch (``n > 1``) are computed once and share the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .kv_cache import KV, cache_to_kv, concat_rows, gather_columns, kv_to_cache, pad_left
from .model import LoadedModel
from ...core.prefix_cache import PrefixCache, PrefixHit
from ...core.request_state import RequestState
from ...core.sampling import token_ids_logprobs, top_logprobs
from ...core.step_sampling import sample_rows


@dataclass
class PrefillResult:
    kv: KV  # [N, H, L, D] per layer, one row per request
    mask: torch.Tensor  # [N, L]
    new_tokens: int  # prompt tokens computed
    cached_tokens: int  # prompt tokens served from the prefix cache


def _zeros_like_prefix(template: KV, length: int) -> KV:
    return [
        (
            k.new_zeros(1, k.shape[1], length, k.shape[3]),
            v.new_zeros(1, v.shape[1], length, v.shape[3]),
        )
        for k, v in template
    ]


def _record_input_logprobs(
    state: RequestState, logits: torch.Tensor, first_col: int, hit: int
) -> None:
    """SGLang's input logprob layout from the logits of the prompt positions.

    logits: [S, V] for the suffix columns; prompt position p sits at column first_col + p - hit.
    Entry for position ``start`` has logprob None; later entries use the previous position.
    """
    prompt = state.req.input_ids
    start, n = state.logprob_start, len(prompt)
    assert state.input_token_logprobs is not None
    state.input_token_logprobs.append(state.triple(None, prompt[start]))
    if state.input_top_logprobs is not None:
        state.input_top_logprobs.append(None)
    if state.input_token_ids_logprob is not None:
        state.input_token_ids_logprob.append(None)
    if start >= n - 1:
        return
    cols = torch.arange(start, n - 1) - hit + first_col  # positions start .. n-2
    logprobs = torch.log_softmax(logits[cols].float(), dim=-1)  # [n-1-start, V]
    targets = torch.tensor(prompt[start + 1 :], dtype=torch.long)
    picked = logprobs.gather(1, targets[:, None]).squeeze(1).tolist()
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


def run_prefill(
    loaded: LoadedModel, states: list[RequestState], prefix_cache: PrefixCache, grammar: Any
) -> PrefillResult:
    """Prefill ``states`` together; fill input logprobs, sample each first token."""
    # Identical prompts are computed once.
    unique: dict[tuple[int, ...], int] = {}
    limits: list[int] = []
    row_to_unique: list[int] = []
    for s in states:
        key = tuple(s.req.input_ids)
        if key not in unique:
            unique[key] = len(limits)
            limits.append(s.logprob_start)
        u = unique[key]
        limits[u] = min(limits[u], s.logprob_start)
        row_to_unique.append(u)
    prompts = [list(k) for k in unique]
    hits: list[PrefixHit] = [
        prefix_cache.match(p, lim) for p, lim in zip(prompts, limits, strict=True)
    ]
    suffixes = [p[h.length :] for p, h in zip(prompts, hits, strict=True)]
    n_unique = len(prompts)
    prefix_len = max(h.length for h in hits)
    suffix_len = max(len(x) for x in suffixes)

    input_ids = torch.zeros(n_unique, suffix_len, dtype=torch.long)  # [U, S]
    suffix_mask = torch.zeros(n_unique, suffix_len, dtype=torch.long)
    prefix_mask = torch.zeros(n_unique, prefix_len, dtype=torch.long)  # [U, H]
    for u, (suffix, hit) in enumerate(zip(suffixes, hits, strict=True)):
        input_ids[u, suffix_len - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
        suffix_mask[u, suffix_len - len(suffix) :] = 1
        if hit.length:
            prefix_mask[u, prefix_len - hit.length :] = 1
    starts = torch.tensor([h.length for h in hits], dtype=torch.long)[:, None]
    position_ids = (starts + suffix_mask.cumsum(dim=1) - 1).clamp(min=0)  # [U, S]
    attention_mask = torch.cat([prefix_mask, suffix_mask], dim=1)  # [U, H+S]

    if prefix_len > 0:
        template = next(h.kv for h in hits if h.kv is not None)
        assert template is not None
        parts = [
            pad_left(h.kv, prefix_len - h.length)
            if h.kv is not None
            else _zeros_like_prefix(template, prefix_len)
            for h in hits
        ]
        cache = kv_to_cache(concat_rows(parts), loaded.config)
    else:
        from transformers import DynamicCache

        cache = DynamicCache(config=loaded.config)

    needs_prompt_logits = any(
        s.req.return_logprob and s.logprob_start < s.prompt_len - 1 for s in states
    )
    out = loaded.model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        cache_position=torch.arange(prefix_len, prefix_len + suffix_len),
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=suffix_len if needs_prompt_logits else 1,
    )
    logits = out.logits  # [U, S or 1, V]
    kv = cache_to_kv(out.past_key_values)  # [U, H, H+S, D]

    if prefix_cache.max_tokens > 0:
        for u, prompt in enumerate(prompts):
            columns = attention_mask[u].nonzero().squeeze(1)
            prefix_cache.insert(prompt, gather_columns(kv, u, columns))

    cached_total = 0
    seen: set[int] = set()
    for s, u in zip(states, row_to_unique, strict=True):
        s.cached_tokens = hits[u].length if u not in seen else s.prompt_len - 1
        seen.add(u)
        cached_total += s.cached_tokens
        if s.req.return_logprob:
            first_col = logits.shape[1] - len(suffixes[u])
            _record_input_logprobs(s, logits[u], first_col, hits[u].length)

    index = torch.tensor(row_to_unique, dtype=torch.long)
    last_logits = logits[:, -1, :].float()[index]  # [N, V]
    alive = []
    for i, s in enumerate(states):
        if s.max_new_tokens <= 0:
            s.finish({"type": "length", "length": 0})
        else:
            alive.append(i)
    if alive:
        rows = [states[i] for i in alive]
        tokens = sample_rows(rows, last_logits[torch.tensor(alive)], grammar)
        for state, token in zip(rows, tokens, strict=True):
            state.append_token(token)
    return PrefillResult(
        kv=[(k[index], v[index]) for k, v in kv],
        mask=attention_mask[index],
        new_tokens=sum(len(x) for x in suffixes),
        cached_tokens=cached_total,
    )
