"""One prefill batch on transformers: every admitted prompt in one forward pass, reusing cached
prefixes.

Layout of the batch (per row): ``[pad | cached prefix KV | pad | uncomputed suffix]``. Cached
prefixes are left-padded to the longest hit, suffixes to the longest suffix; the attention mask
hides the padding and positions are explicit, so holes in the middle are harmless. Identical
prompts in one batch (``n > 1``) are computed once and share the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def _unique_prompts(states: list[RequestState]) -> tuple[list[list[int]], list[int], list[int]]:
    """Identical prompts are computed once: (the distinct prompts, the lowest logprob start of
    each, the distinct prompt of each row)."""
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
    return [list(k) for k in unique], limits, row_to_unique


@dataclass
class _Inputs:
    """The forward pass's inputs: suffixes right-aligned after left-padded cached prefixes."""

    input_ids: torch.Tensor  # [U, S]
    attention_mask: torch.Tensor  # [U, H+S]
    position_ids: torch.Tensor  # [U, S]
    prefix_len: int  # H
    suffix_len: int  # S

    @classmethod
    def of(cls, suffixes: list[list[int]], hits: list[PrefixHit[KV]]) -> _Inputs:
        n_unique = len(suffixes)
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
        return cls(input_ids, attention_mask, position_ids, prefix_len, suffix_len)


def _prefix_cache(loaded: LoadedModel, hits: list[PrefixHit[KV]], prefix_len: int) -> Any:
    """A DynamicCache holding every row's cached prefix, left-padded to ``prefix_len``."""
    if prefix_len == 0:
        from transformers import DynamicCache

        return DynamicCache(config=loaded.config)
    hit_kvs = [_hit_kv(h) for h in hits]
    template = next(kv for kv in hit_kvs if kv is not None)
    parts = [
        pad_left(kv, prefix_len - h.length)
        if kv is not None
        else _zeros_like_prefix(template, prefix_len)
        for h, kv in zip(hits, hit_kvs, strict=True)
    ]
    return kv_to_cache(concat_rows(parts), loaded.config)


def _wants_prompt_logits(s: RequestState) -> bool:
    return bool(s.req.return_logprob) and s.logprob_start < s.prompt_len - 1


def run_prefill(
    loaded: LoadedModel, states: list[RequestState], prefix_cache: PrefixCache[KV]
) -> PrefillResult:
    """Prefill ``states`` together; the logits of each last prompt position (and of earlier
    positions for rows that asked for input logprobs)."""
    prompts, limits, row_to_unique = _unique_prompts(states)
    hits: list[PrefixHit[KV]] = [
        prefix_cache.match(p, lim) for p, lim in zip(prompts, limits, strict=True)
    ]
    suffixes = [p[h.length :] for p, h in zip(prompts, hits, strict=True)]
    inputs = _Inputs.of(suffixes, hits)
    out = loaded.model(
        input_ids=inputs.input_ids,
        attention_mask=inputs.attention_mask,
        position_ids=inputs.position_ids,
        cache_position=torch.arange(inputs.prefix_len, inputs.prefix_len + inputs.suffix_len),
        past_key_values=_prefix_cache(loaded, hits, inputs.prefix_len),
        use_cache=True,
        logits_to_keep=inputs.suffix_len if any(map(_wants_prompt_logits, states)) else 1,
    )
    logits = out.logits  # [U, S or 1, V]
    kv = cache_to_kv(out.past_key_values)  # [U, H, H+S, D]

    if prefix_cache.max_tokens > 0:
        for u, prompt in enumerate(prompts):
            columns = inputs.attention_mask[u].nonzero().squeeze(1)
            prefix_cache.insert(prompt, gather_columns(kv, u, columns))

    cached_total = 0
    seen: set[int] = set()
    prompt_logits: dict[int, np.ndarray] = {}
    for i, (s, u) in enumerate(zip(states, row_to_unique, strict=True)):
        s.cached_tokens = hits[u].length if u not in seen else s.prompt_len - 1
        seen.add(u)
        cached_total += s.cached_tokens
        if _wants_prompt_logits(s):
            # prompt position p sits at column first_col + p - hit
            first_col = logits.shape[1] - len(suffixes[u])
            cols = torch.arange(s.logprob_start, s.prompt_len - 1) - hits[u].length + first_col
            prompt_logits[i] = logits[u][cols].float().numpy()

    index = torch.tensor(row_to_unique, dtype=torch.long)
    return PrefillResult(
        kv=[(k[index], v[index]) for k, v in kv],
        mask=inputs.attention_mask[index],
        new_tokens=sum(len(x) for x in suffixes),
        cached_tokens=cached_total,
        last_logits=logits[:, -1, :].float()[index].numpy(),
        prompt_logits=prompt_logits,
    )
