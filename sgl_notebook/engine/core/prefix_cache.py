"""A token-level LRU index of cached prompts: the CPU engine's stand-in for SGLang's radix cache.

Each entry is one prompt's token ids and a runner-specific handle to that prompt's KV (tensors
for the transformers runner, a llama.cpp sequence id for the llama.cpp runner). A new prompt
reuses the longest shared prefix of any entry, so only the rest is prefilled. Entries are bounded
by a token budget (and optionally a count) and evicted least recently used first; a prompt that
extends a cached one replaces it. ``on_evict`` frees an entry's handle.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

H = TypeVar("H")


def common_prefix_length(a: tuple[int, ...], b: list[int]) -> int:
    """How many leading tokens two sequences share."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class PrefixHit(Generic[H]):
    """The first ``length`` prompt tokens are cached in ``handle`` (None when nothing matched)."""

    length: int
    handle: H | None


class PrefixCache(Generic[H]):
    """LRU of prompt handles bounded by ``max_tokens`` tokens in total (0 disables it)."""

    def __init__(
        self,
        max_tokens: int = 4096,
        max_entries: int | None = None,
        on_evict: Callable[[H], None] | None = None,
    ) -> None:
        self.max_tokens = max_tokens
        self.max_entries = max_entries
        self._on_evict = on_evict
        self._entries: OrderedDict[tuple[int, ...], H] = OrderedDict()
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

    def match(self, input_ids: list[int], max_length: int) -> PrefixHit[H]:
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
            return PrefixHit(best, self._entries[best_key])

    def covers(self, input_ids: list[int]) -> bool:
        """True when an entry already holds all of ``input_ids`` (inserting it would be a no-op)."""
        key = tuple(input_ids)
        with self._lock:
            return any(len(e) >= len(key) and e[: len(key)] == key for e in self._entries)

    def insert(self, input_ids: list[int], handle: H) -> bool:
        """Remember one prompt's KV handle; False (handle not kept) when it is not cached."""
        if self.max_tokens <= 0 or not input_ids or len(input_ids) > self.max_tokens:
            return False
        key = tuple(input_ids)
        evicted: list[H] = []
        with self._lock:
            for existing in list(self._entries):
                if len(existing) >= len(key) and existing[: len(key)] == key:
                    self._entries.move_to_end(existing)  # already covered by a longer entry
                    return False
                if len(existing) < len(key) and key[: len(existing)] == existing:
                    evicted.append(self._drop(existing))  # the new prompt extends this one
            self._entries[key] = handle
            self._tokens += len(key)
            while self._over_budget():
                evicted.append(self._drop(next(iter(self._entries))))
        self._evict_all(evicted)
        return True

    def evict_lru(self) -> bool:
        """Drop the least recently used entry; False when the cache is empty."""
        with self._lock:
            if not self._entries:
                return False
            handle = self._drop(next(iter(self._entries)))
        self._evict_all([handle])
        return True

    def flush(self) -> None:
        """Forget every entry."""
        with self._lock:
            handles = list(self._entries.values())
            self._entries.clear()
            self._tokens = 0
        self._evict_all(handles)

    def _over_budget(self) -> bool:
        too_many = self.max_entries is not None and len(self._entries) > self.max_entries
        return bool(self._entries) and (self._tokens > self.max_tokens or too_many)

    def _drop(self, key: tuple[int, ...]) -> H:
        handle = self._entries.pop(key)
        self._tokens -= len(key)
        return handle

    def _evict_all(self, handles: list[H]) -> None:
        if self._on_evict is not None:
            for handle in handles:
                self._on_evict(handle)
