"""Key/value tensors of a transformers ``DynamicCache``, as plain per-layer tensor pairs.

The scheduler joins, drops and trims rows of the running batch; the prefix cache stores one
request's prompt KV. Both work on ``KV = list[(keys, values)]`` with tensors shaped
``[batch, kv_heads, seq, head_dim]`` and rebuild a ``DynamicCache`` for the model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

KV = list[tuple[torch.Tensor, torch.Tensor]]


def cache_to_kv(cache: Any) -> KV:
    """The per-layer (keys, values) of a DynamicCache (views, not copies)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def kv_to_cache(kv: KV, config: Any) -> Any:
    """A DynamicCache holding ``kv``."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=kv, config=config)


def kv_length(kv: KV) -> int:
    return int(kv[0][0].shape[2]) if kv else 0


def pad_left(kv: KV, n: int) -> KV:
    """Add ``n`` zero columns before every row's keys and values (masked out by the caller)."""
    if n <= 0:
        return kv
    return [(F.pad(k, (0, 0, n, 0)), F.pad(v, (0, 0, n, 0))) for k, v in kv]


def concat_rows(parts: list[KV]) -> KV:
    """Stack caches of equal length along the batch dimension."""
    return [
        (torch.cat([p[i][0] for p in parts], dim=0), torch.cat([p[i][1] for p in parts], dim=0))
        for i in range(len(parts[0]))
    ]


def select_columns(kv: KV, start: int, end: int | None = None) -> KV:
    """Columns ``start:end`` of every layer (a view)."""
    return [(k[:, :, start:end], v[:, :, start:end]) for k, v in kv]


def gather_columns(kv: KV, row: int, columns: torch.Tensor) -> KV:
    """One row's KV at the given columns, as a contiguous ``[1, H, len(columns), D]`` copy."""
    return [
        (k[row : row + 1, :, columns].contiguous(), v[row : row + 1, :, columns].contiguous())
        for k, v in kv
    ]


def kv_bytes(kv: KV) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)
