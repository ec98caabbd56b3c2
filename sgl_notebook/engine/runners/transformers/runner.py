"""The transformers runner: Hugging Face folders on torch (and ``--runner transformers``).

Prefill runs every admitted prompt in one forward pass (``prefill.py``); decoding keeps one
left-padded batch with a shared ``DynamicCache`` (``batch.py``). Cached prompts keep their KV
tensors in the prefix cache. Batched greedy output equals solo output token for token: padding
is masked and positions are explicit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...core.prefix_cache import PrefixCache
from ...core.runner import ModelInfo, PrefillOutput
from .batch import RunningBatch
from .kv_cache import KV
from .model import LoadedModel
from .prefill import PrefillResult, run_prefill

if TYPE_CHECKING:
    from ...core.request_state import RequestState


def model_info(loaded: LoadedModel) -> ModelInfo:
    config = loaded.config
    layers = int(getattr(config, "num_hidden_layers", 0) or 0)
    heads = int(getattr(config, "num_attention_heads", 1) or 1)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    return ModelInfo(
        model_path=loaded.model_path,
        resolved_path=loaded.resolved_path,
        context_length=loaded.context_length,
        vocab_size=loaded.vocab_size,
        eos_token_ids=loaded.eos_token_ids,
        model_class=loaded.model_class,
        weight_bytes=loaded.weight_bytes,
        dtype=loaded.dtype,
        load_seconds=loaded.load_seconds,
        num_threads=loaded.num_threads,
        kv_bytes_per_token=2 * layers * kv_heads * head_dim * 4,  # float32 keys and values
        runner="transformers",
        has_chat_template=loaded.has_chat_template,
    )


class TransformersRunner:
    """Prefill and decode on a transformers causal LM (see the module docstring)."""

    def __init__(self, loaded: LoadedModel, prefix_cache_tokens: int = 4096) -> None:
        self.loaded = loaded
        self.info = model_info(loaded)
        self.tokenizer = loaded.tokenizer
        self.prefix_cache: PrefixCache[KV] = PrefixCache(prefix_cache_tokens)
        self.batch = RunningBatch(loaded.config)
        self._pending: tuple[list[RequestState], PrefillResult] | None = None
        self._grammar: Any = None

    def prefill(self, states: list[RequestState]) -> PrefillOutput:
        with torch.inference_mode():
            result = run_prefill(self.loaded, states, self.prefix_cache)
        self._join_pending()  # an earlier prefill not decoded yet (its rows may still run)
        self._pending = (states, result)
        return PrefillOutput(
            result.last_logits, result.new_tokens, result.cached_tokens, result.prompt_logits
        )

    def _join_pending(self, alive: set[int] | None = None) -> None:
        """Move the last prefill's rows that still run into the decode batch."""
        if self._pending is None:
            return
        states, result = self._pending
        self._pending = None
        keep = [
            i for i, s in enumerate(states)
            if not s.finished and (alive is None or id(s) in alive)
        ]
        if keep:
            index = torch.tensor(keep, dtype=torch.long)
            kv = [(k[index], v[index]) for k, v in result.kv]
            self.batch.add([states[i] for i in keep], kv, result.mask[index])

    def decode(self, states: list[RequestState]) -> np.ndarray:
        alive = {id(s) for s in states}
        self.batch.keep_only(alive)
        self._join_pending(alive)
        with torch.inference_mode():
            out = self.loaded.model(**self.batch.forward_inputs(), use_cache=True)
        self.batch.cache = out.past_key_values
        self.batch.advance()
        logits = out.logits[:, -1, :].float().numpy()  # [B, V] in batch order
        row_of = {id(r): i for i, r in enumerate(self.batch.rows)}
        order = [row_of[id(s)] for s in states]
        return logits if order == list(range(len(order))) else logits[order]

    def release(self, state: RequestState) -> None:
        if any(r is state for r in self.batch.rows):
            self.batch.keep_only({id(r) for r in self.batch.rows if r is not state})

    def flush_cache(self) -> None:
        self.prefix_cache.flush()

    def cached_prefix_tokens(self) -> int:
        return self.prefix_cache.cached_tokens

    def grammar_backend(self, fresh: bool = False) -> Any:
        """The runner's grammar backend (``fresh``: a new one, its compiler not built yet)."""
        if self._grammar is None or fresh:
            from ...core.grammar_xgrammar import XGrammarBackend

            backend = XGrammarBackend(self.tokenizer, self.info.vocab_size, start=False)
            if fresh:
                return backend
            self._grammar = backend
        return self._grammar

    def close(self) -> None:
        self.batch.clear()
        self._pending = None
