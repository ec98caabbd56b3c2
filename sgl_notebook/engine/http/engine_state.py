"""What the HTTP routes share: settings, the generation bridge, the model's facts, readiness."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from ..runners.transformers.embedding import EmbeddingEngine
from ..server_args import ServerArgs
from .metrics_collector import EngineMetrics
from .tokenizer_manager import GenerationManager

logger = logging.getLogger("sgl_notebook.engine")

VERSION = "0.4.10.post2"  # the SGLang release whose protocol this engine speaks


@dataclass
class EngineState:
    """The engine as the HTTP layer sees it (one per process, kept on ``app.state.engine``)."""

    args: ServerArgs
    context_len: int
    max_total_num_tokens: int
    max_running_requests: int
    is_generation: bool = True
    manager: GenerationManager | None = None
    embedder: EmbeddingEngine | None = None
    scheduler: Any = None
    tokenizer: Any = None
    metrics: EngineMetrics | None = None
    weight_gb: float = 0.0
    kv_cache_gb: float = 0.0
    chunked_prefill_size: int = -1
    max_prefill_tokens: int = 16384
    runner: str = "transformers"  # which runner serves the model: "llama.cpp" or "transformers"
    # SGLang's ServerStatus: "Starting" until the warm-up request succeeds, then "Up".
    server_up: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def served_model_name(self) -> str:
        return self.args.served_model_name or self.args.model_path

    @property
    def max_req_input_len(self) -> int:
        return min(self.context_len - 1, self.max_total_num_tokens - 1)

    def model_info(self) -> dict[str, Any]:
        """``/get_model_info`` (0.4.10 keys)."""
        return {
            "model_path": self.args.model_path,
            "tokenizer_path": self.args.tokenizer_path,
            "is_generation": self.is_generation,
            "preferred_sampling_params": self.args.preferred_sampling_params,
        }

    def last_gen_throughput(self) -> float:
        if self.scheduler is None or not hasattr(self.scheduler, "snapshot"):
            return 0.0
        return float(self.scheduler.snapshot().last_gen_throughput)

    def server_info(self) -> dict[str, Any]:
        """``/get_server_info``: the arguments, scheduler facts, internal state and version."""
        return {
            **self.args.as_info(),
            "status": "ready",
            "max_total_num_tokens": self.max_total_num_tokens,
            "max_req_input_len": self.max_req_input_len,
            "internal_states": [
                {
                    **self.args.as_info(),
                    "attention_backend": (
                        "llama.cpp" if self.runner == "llama.cpp" else "torch_native"
                    ),
                    "last_gen_throughput": self.last_gen_throughput(),
                    "memory_usage": {
                        "weight": round(self.weight_gb, 2),
                        "kvcache": round(self.kv_cache_gb, 2),
                        "token_capacity": self.max_total_num_tokens,
                        "cuda_graph": 0,
                    },
                    "load": self.load(),
                }
            ],
            "version": VERSION,
        }

    def load(self) -> int:
        return len(self.manager.states) if self.manager is not None else 0
