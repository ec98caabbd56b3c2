"""The llama.cpp runner: one ``llama_batch`` and one ``llama_decode`` per step for every sequence.

One llama.cpp context holds every sequence's KV in a unified buffer of ``max_total_num_tokens``
cells (allocated up front, as SGLang's token pool is). Each running request owns a sequence id;
a cached prompt (the prefix cache) owns another. Reusing a cached prefix is
``llama_memory_seq_cp``: the cells are shared, nothing is recomputed or copied. Finishing a
request is ``llama_memory_seq_rm``. When llama.cpp finds no free cells, least recently used
cached prompts are evicted and the step is retried.

Shapes: logits come back as numpy ``[n_outputs, n_vocab]`` float32, one row per batch token
whose ``logits`` flag is set, in batch order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core.prefix_cache import PrefixCache
from ...core.runner import ModelInfo, PrefillOutput
from .gguf_model import GGUFModel, LlamaLog

if TYPE_CHECKING:
    from ...core.request_state import RequestState

LLAMA_MAX_SEQ = 256  # llama.cpp's limit on sequence ids per context
CACHE_SEQS = 32  # sequence ids kept for cached prompts
N_BATCH = 2048  # tokens per llama_decode call
N_UBATCH = 512


class KVCacheFullError(RuntimeError):
    """llama.cpp found no free KV cells even with the prefix cache emptied."""


@dataclass
class _Token:
    token: int
    pos: int
    seq: int
    logits: bool


class LlamaCppRunner:
    """Prefill and decode on a llama.cpp context (see the module docstring)."""

    def __init__(
        self,
        gguf: GGUFModel,
        max_total_tokens: int,
        max_running_requests: int,
        prefix_cache_tokens: int,
    ) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.gguf = gguf
        self.info: ModelInfo = gguf.info
        self.tokenizer = gguf.tokenizer
        self.max_running = min(max_running_requests, LLAMA_MAX_SEQ - CACHE_SEQS)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = max_total_tokens
        params.n_batch = min(N_BATCH, max_total_tokens)
        params.n_ubatch = min(N_UBATCH, max_total_tokens)
        params.n_seq_max = self.max_running + CACHE_SEQS
        params.kv_unified = True
        params.n_threads = params.n_threads_batch = self.info.num_threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(gguf.model, params)
        if not self.ctx:
            lines = LlamaLog.install().take()
            raise RuntimeError(
                f"llama.cpp could not create a context of {max_total_tokens} tokens: "
                + (lines[-1] if lines else "out of memory?")
            )
        self.n_ctx = int(llama_cpp.llama_n_ctx(self.ctx))
        self.max_total_tokens = self.n_ctx  # the KV pool, allocated up front
        self.n_batch = int(params.n_batch)
        self.n_vocab = self.info.vocab_size
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._free_seqs = list(range(self.max_running))
        self._free_cache_seqs = list(range(self.max_running, self.max_running + CACHE_SEQS))
        self._seq_of: dict[int, int] = {}  # id(state) -> sequence id
        self.prefix_cache: PrefixCache[int] = PrefixCache(
            prefix_cache_tokens, max_entries=CACHE_SEQS, on_evict=self._free_cache_seq
        )
        self._grammar: Any = None
        self._all_grammars: list[Any] = []

    # -- sequences ------------------------------------------------------------------------------
    def _new_seq(self, state: RequestState) -> int:
        seq = self._free_seqs.pop()
        self._seq_of[id(state)] = seq
        return seq

    def release(self, state: RequestState) -> None:
        seq = self._seq_of.pop(id(state), None)
        if seq is not None:
            self._lib.llama_memory_seq_rm(self.memory, seq, -1, -1)
            self._free_seqs.append(seq)

    def _free_cache_seq(self, seq: int) -> None:
        self._lib.llama_memory_seq_rm(self.memory, seq, -1, -1)
        self._free_cache_seqs.append(seq)

    def flush_cache(self) -> None:
        self.prefix_cache.flush()

    def cached_prefix_tokens(self) -> int:
        return self.prefix_cache.cached_tokens

    def _remember_prompt(self, prompt: list[int], seq: int) -> None:
        """Keep ``prompt``'s cells under a cache sequence id (shared cells, no copy)."""
        if self.prefix_cache.max_tokens <= 0 or self.prefix_cache.covers(prompt):
            return
        if not self._free_cache_seqs and not self.prefix_cache.evict_lru():
            return
        cache_seq = self._free_cache_seqs.pop()
        self._lib.llama_memory_seq_cp(self.memory, seq, cache_seq, 0, len(prompt))
        if not self.prefix_cache.insert(prompt, cache_seq):
            self._free_cache_seq(cache_seq)

    # -- llama_decode ---------------------------------------------------------------------------
    def _decode(self, tokens: list[_Token]) -> np.ndarray:
        """Run ``tokens`` (at most ``n_batch``); logits of the flagged ones, in order."""
        b = self.batch
        for i, t in enumerate(tokens):
            b.token[i] = t.token
            b.pos[i] = t.pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = t.seq
            b.logits[i] = t.logits
        b.n_tokens = len(tokens)
        while True:
            code = self._lib.llama_decode(self.ctx, b)
            if code == 0:
                break
            if code == 1 and self.prefix_cache.evict_lru():
                continue  # no free cells: drop a cached prompt and try again
            if code == 1:
                raise KVCacheFullError(
                    f"The KV cache ({self.n_ctx} tokens) is full; lower the number of running "
                    "requests or raise --max-total-tokens."
                )
            raise RuntimeError(f"llama_decode failed with code {code}")
        n_out = sum(t.logits for t in tokens)
        if n_out == 0:
            return np.empty((0, self.n_vocab), dtype=np.float32)
        ptr = self._lib.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab)).copy()

    def _run(self, tokens: list[_Token]) -> np.ndarray:
        """``_decode`` in chunks of ``n_batch`` tokens; logits of all flagged tokens."""
        chunks = [
            self._decode(tokens[i : i + self.n_batch]) for i in range(0, len(tokens), self.n_batch)
        ]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    # -- the runner contract --------------------------------------------------------------------
    def prefill(self, states: list[RequestState]) -> PrefillOutput:
        """Compute new prompts; identical prompts in one batch are computed once and shared."""
        first_of: dict[tuple[int, ...], int] = {}
        starts: dict[int, int] = {}  # unique row -> smallest logprob start of its group
        for i, s in enumerate(states):
            key = tuple(s.req.input_ids)
            u = first_of.setdefault(key, i)
            starts[u] = min(starts.get(u, s.logprob_start), s.logprob_start)
        tokens: list[_Token] = []
        out_rows: dict[int, tuple[int, int]] = {}  # unique row -> (first output row, count)
        new_tokens = n_out = 0
        for u, start in starts.items():
            state, prompt = states[u], states[u].req.input_ids
            seq = self._new_seq(state)
            hit = self.prefix_cache.match(prompt, min(start, len(prompt) - 1))
            if hit.handle is not None:
                self._lib.llama_memory_seq_cp(self.memory, hit.handle, seq, 0, hit.length)
            state.cached_tokens = hit.length
            first_out = n_out
            # Any member of the group asking for input logprobs lowers ``start`` below n - 1.
            wants_prompt = start < len(prompt) - 1
            for pos in range(hit.length, len(prompt)):
                flagged = pos == len(prompt) - 1 or (wants_prompt and pos >= start)
                tokens.append(_Token(prompt[pos], pos, seq, flagged))
                n_out += flagged
            out_rows[u] = (first_out, n_out - first_out)
            new_tokens += len(prompt) - hit.length
        logits = self._run(tokens)
        last = np.empty((len(states), self.n_vocab), dtype=np.float32)
        prompt_logits: dict[int, np.ndarray] = {}
        for i, s in enumerate(states):
            u = first_of[tuple(s.req.input_ids)]
            first, count = out_rows[u]
            last[i] = logits[first + count - 1]
            if i != u:  # a twin: share the computed prompt's cells
                seq = self._new_seq(s)
                self._lib.llama_memory_seq_cp(
                    self.memory, self._seq_of[id(states[u])], seq, 0, s.prompt_len
                )
                s.cached_tokens = s.prompt_len - 1
            if s.req.return_logprob and s.logprob_start < s.prompt_len - 1:
                skip = s.logprob_start - starts[u]
                prompt_logits[i] = logits[first + skip : first + count - 1]
        for u in starts:
            self._remember_prompt(states[u].req.input_ids, self._seq_of[id(states[u])])
        cached = sum(s.cached_tokens for s in states)
        return PrefillOutput(last, new_tokens, cached, prompt_logits)

    def decode(self, states: list[RequestState]) -> np.ndarray:
        """One step: each state's last output token at its next position -> logits [B, V]."""
        tokens = [
            _Token(s.output_ids[-1], s.kv_tokens - 1, self._seq_of[id(s)], True) for s in states
        ]
        return self._run(tokens)

    def grammar_backend(self, fresh: bool = False) -> Any:
        """The runner's grammar backend (``fresh``: a new one, its compiler not built yet)."""
        if self._grammar is None or fresh:
            from ...core.grammar_llguidance import LLGuidanceBackend

            backend = LLGuidanceBackend(
                self.gguf.vocab, self.n_vocab, self.info.eos_token_ids, start=False
            )
            self._all_grammars.append(backend)
            if not fresh:
                self._grammar = backend
            return backend
        return self._grammar

    def close(self) -> None:
        for backend in self._all_grammars:
            backend.shutdown(wait_for_init=30.0)  # it reads the vocabulary freed below
        if self.ctx:
            self._lib.llama_batch_free(self.batch)
            self._lib.llama_free(self.ctx)
            self.ctx = None
        self.gguf.close()
