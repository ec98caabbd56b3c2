"""One prefill batch on transformers: every admitted prompt in one forward pass, reusing cached
prefixes.

Layout of the batch (per row): ``[pad | cached prefix KV | pad | uncomputed suffix]``. Cached
prefixes are left-padded to the longest hit, suffixes to the longest suffix; the attention mask
hides the padding and positions are explicit, so holes in the middle are harmless. Identical
prompts in one batch (``n > 1``) are computed once and share the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...core.prefix_cache import PrefixCache, PrefixHit
from ...core.request_state import RequestState
from .kv_cache import (
    KV,
    cache_to_kv,
    concat_rows,
    gather_columns,
    kv_to_cache,
    pad_left,
    select_columns,
)
from .model import LoadedModel


@dataclass
class PrefillResult:
    kv: KV  # [N, H, L, D] per layer, one row per request
    mask: torch.Tensor  # [N, L]
    new_tokens: int  # prompt tokens computed
    cached_tokens: int  # prompt tokens served from the prefix cache
    last_logits: np.ndarray  # [N, V] float32
    prompt_logits: dict[int, np.ndarray]  # row -> [n - 1 - start, V] for input logprobs


def _zeros_like_prefix(template: KV, length: int) -> KV:
    return [
        (
            k.new_zeros(1, k.shape[1], length, k.shape[3]),
            v.new_zeros(1, v.shape[1], length, v.shape[3]),
        )
        for k, v in template
    ]


def _hit_kv(hit: PrefixHit[KV]) -> KV | None:
    return select_columns(hit.handle, 0, hit.length) if hit.handle is not None else None


def run_prefill(
    loaded: LoadedModel, states: list[RequestState], prefix_cache: PrefixCache[KV]
) -> PrefillResult:
    """Prefill ``states`` together; the logits of each last prompt position (and of earlier
    positions for rows that asked for input logprobs)."""
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
    hits: list[PrefixHit[KV]] = [
        prefix_cache.match(p, lim) for p, lim in zip(prompts, limits, strict=True)
    ]
    hit_kvs = [_hit_kv(h) for h in hits]
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
        template = next(kv for kv in hit_kvs if kv is not None)
        parts = [
            pad_left(kv, prefix_len - h.length)
            if kv is not None
            else _zeros_like_prefix(template, prefix_len)
            for h, kv in zip(hits, hit_kvs, strict=True)
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
    prompt_logits: dict[int, np.ndarray] = {}
    for i, (s, u) in enumerate(zip(states, row_to_unique, strict=True)):
        s.cached_tokens = hits[u].length if u not in seen else s.prompt_len - 1
        seen.add(u)
        cached_total += s.cached_tokens
        if s.req.return_logprob and s.logprob_start < s.prompt_len - 1:
            # prompt position p sits at column first_col + p - hit
            first_col = logits.shape[1] - len(suffixes[u])
            cols = torch.arange(s.logprob_start, s.prompt_len - 1) - hits[u].length + first_col
            prompt_logits[i] = logits[u][cols].float().numpy()

    index = torch.tensor(row_to_unique, dtype=torch.long)
    return PrefillResult(
        kv=[(k[index], v[index]) for k, v in kv],
        mask=attention_mask[index],
        new_tokens=sum(len(x) for x in suffixes),
        cached_tokens=cached_total,
        last_logits=logits[:, -1, :].float()[index].numpy(),
        prompt_logits=prompt_logits,
    )
