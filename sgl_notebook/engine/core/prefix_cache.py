"""A token-level LRU cache of prompt KV: the CPU engine's stand-in for SGLang's radix cache.

Each entry is one prompt's token ids and its keys/values. A new prompt reuses the longest
shared prefix of any entry (a view of its columns, copied when the batch is assembled), so
only the rest is prefilled. Entries are bounded by a token budget and evicted least recently
used first; a prompt that extends a cached one replaces it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..runners.transformers.kv_cache import KV, select_columns


def common_prefix_length(a: tuple[int, ...], b: list[int]) -> int:
    """How many leading tokens two sequences share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class PrefixHit:
    """``length`` leading prompt tokens whose KV is ``kv`` (``[1, H, length, D]`` per layer)."""

    length: int
    kv: KV | None


class PrefixCache:
    """LRU of prompt KV caches bounded by ``max_tokens`` tokens in total (0 disables it)."""

    def __init__(self, max_tokens: int = 4096) -> None:
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple[int, ...], KV] = OrderedDict()
        self._tokens = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.lookups = 0

    @property
    def cached_tokens(self) -> int:
        """Tokens held across all entries."""
        return self._tokens

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, input_ids: list[int], max_length: int) -> PrefixHit:
        """The longest cached prefix of ``input_ids``, at most ``max_length`` tokens long."""
        with self._lock:
            self.lookups += 1
            best_key: tuple[int, ...] | None = None
            best = 0
            for key in self._entries:
                n = common_prefix_length(key, input_ids)
                if n > best:
                    best, best_key = n, key
            best = min(best, max_length)
            if best_key is None or best <= 0:
                return PrefixHit(0, None)
            self._entries.move_to_end(best_key)
            self.hits += 1
            return PrefixHit(best, select_columns(self._entries[best_key], 0, best))

    def insert(self, input_ids: list[int], kv: KV) -> None:
        """Remember one prompt's KV (``[1, H, len(input_ids), D]`` per layer)."""
        if self.max_tokens <= 0 or not input_ids or len(input_ids) > self.max_tokens:
            return
        key = tuple(input_ids)
        with self._lock:
            for existing in list(self._entries):
                if len(existing) >= len(key) and existing[: len(key)] == key:
                    self._entries.move_to_end(existing)  # already covered by a longer entry
                    return
                if len(existing) < len(key) and key[: len(existing)] == existing:
                    self._drop(existing)  # the new prompt extends this one
            self._entries[key] = kv
            self._tokens += len(key)
            while self._tokens > self.max_tokens and self._entries:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: tuple[int, ...]) -> None:
        del self._entries[key]
        self._tokens -= len(key)

    def flush(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._tokens = 0
