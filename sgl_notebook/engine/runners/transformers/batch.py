"""The running decode batch: rows, their shared KV cache, attention mask and positions.

Rows are left-padded to a common KV length. A newcomer's KV is padded on the left and stacked
onto the batch; finished rows leave with ``batch_select_indices`` and columns that are padding
in every remaining row are trimmed. Positions are explicit (``cumsum(mask) - 1``, +1 per step),
so padding never shifts a row's rotary positions and batched greedy output equals solo output.
"""

from __future__ import annotations

from typing import Any

import torch

from ...core.request_state import RequestState
from .kv_cache import KV, cache_to_kv, concat_rows, kv_length, kv_to_cache, pad_left


class RunningBatch:
    """Requests being decoded together."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.rows: list[RequestState] = []
        self.cache: Any = None  # DynamicCache, [B, H, L, D] per layer
        self.mask = torch.zeros(0, 0, dtype=torch.long)  # [B, L]
        self.positions = torch.zeros(0, dtype=torch.long)  # [B] position of the next input token

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, rows: list[RequestState], kv: KV, mask: torch.Tensor) -> None:
        """Join rows whose prompts were just prefilled (kv: [N, H, L', D], mask: [N, L'])."""
        if not rows:
            return
        positions = torch.tensor([r.prompt_len for r in rows], dtype=torch.long)
        if not self.rows:
            self.rows = list(rows)
            self.cache = kv_to_cache(kv, self.config)
            self.mask, self.positions = mask, positions
            return
        mine = cache_to_kv(self.cache)
        width = max(kv_length(mine), kv_length(kv))
        mine = pad_left(mine, width - kv_length(mine))
        theirs = pad_left(kv, width - kv_length(kv))
        pad = torch.nn.functional.pad
        self.mask = torch.cat(
            [pad(self.mask, (width - self.mask.shape[1], 0)), pad(mask, (width - mask.shape[1], 0))]
        )
        self.cache = kv_to_cache(concat_rows([mine, theirs]), self.config)
        self.positions = torch.cat([self.positions, positions])
        self.rows.extend(rows)

    def keep_only(self, alive: set[int]) -> None:
        """Keep the rows whose ``id()`` is in ``alive``; trim columns that are padding in every
        remaining row."""
        keep = [i for i, r in enumerate(self.rows) if id(r) in alive]
        if len(keep) == len(self.rows):
            return
        if not keep:
            self.clear()
            return
        index = torch.tensor(keep, dtype=torch.long)
        self.cache.batch_select_indices(index)
        self.rows = [self.rows[i] for i in keep]
        self.positions = self.positions[index]
        self.mask = self.mask[index]
        used_columns = self.mask.any(dim=0).nonzero()
        first = int(used_columns[0]) if len(used_columns) else 0
        if first > 0:
            self.mask = self.mask[:, first:]
            for layer in self.cache.layers:
                layer.keys = layer.keys[:, :, first:]
                layer.values = layer.values[:, :, first:]

    def clear(self) -> None:
        self.rows = []
        self.cache = None
        self.mask = torch.zeros(0, 0, dtype=torch.long)
        self.positions = torch.zeros(0, dtype=torch.long)

    def forward_inputs(self) -> dict[str, Any]:
        """Model inputs for one decode step: each row's last output token."""
        b, length = self.mask.shape
        self.mask = torch.cat([self.mask, torch.ones(b, 1, dtype=self.mask.dtype)], dim=1)
        tokens = [r.output_ids[-1] for r in self.rows]
        return {
            "input_ids": torch.tensor(tokens, dtype=torch.long)[:, None],  # [B, 1]
            "attention_mask": self.mask,  # [B, L+1]
            "position_ids": self.positions[:, None],  # [B, 1]
            "cache_position": torch.tensor([length], dtype=torch.long),
            "past_key_values": self.cache,
        }

    def advance(self) -> None:
        """After a decode step: every row is one position further."""
        self.positions = self.positions + 1
