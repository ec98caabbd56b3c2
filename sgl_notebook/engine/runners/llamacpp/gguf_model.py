"""Load a GGUF model with llama.cpp: memory-mapped as it is, facts read from its metadata.

llama.cpp reports load failures only through its log callback; :func:`load_gguf` keeps the last
error lines and turns a failed load into one ``ModelLoadError`` line that names the cause (not a
GGUF, truncated, an architecture llama.cpp cannot load, a context longer than the model's).
Everything else llama.cpp would print on stderr is dropped: the engine's log stays SGLang-shaped.
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.runner import ModelInfo, ModelLoadError
from ..resolve import check_gguf_file, thread_count
from .tokenizer import GGUFTokenizer

GGML_LOG_LEVEL_WARN = 3
GGML_LOG_LEVEL_ERROR = 4
ARCHITECTURE_CLASSES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "gemma": "GemmaForCausalLM",
    "gemma2": "Gemma2ForCausalLM",
    "gemma3": "Gemma3ForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "mistral": "MistralForCausalLM",
    "gpt2": "GPT2LMHeadModel",
}


class LlamaLog:
    """Collects llama.cpp's warnings and errors; drops the rest (installed once per process)."""

    _instance: LlamaLog | None = None

    def __init__(self) -> None:
        import llama_cpp

        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._callback = llama_cpp.llama_log_callback(self._on_log)  # kept alive on self
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    @classmethod
    def install(cls) -> LlamaLog:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _on_log(self, level: int, text: bytes, _user: Any) -> None:
        if level in (GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR) and text:
            with self._lock:
                self.lines.append(text.decode("utf-8", errors="replace").strip())
                del self.lines[:-50]

    def take(self) -> list[str]:
        with self._lock:
            lines, self.lines = self.lines, []
        return lines


def load_failure_reason(lines: list[str]) -> str:
    """The most telling line llama.cpp logged about a failed load."""
    for needle in ("unknown model architecture", "not within the file bounds", "error loading"):
        for line in reversed(lines):
            if needle in line:
                return line.split("error loading model:", 1)[-1].strip(" :")
    return lines[-1] if lines else "llama.cpp could not load it"


@dataclass
class GGUFModel:
    """A loaded llama.cpp model with its tokenizer and facts (freed by ``close``)."""

    model: Any  # llama_model_p
    vocab: Any  # llama_vocab_p
    tokenizer: GGUFTokenizer
    info: ModelInfo
    n_ctx_train: int

    def close(self) -> None:
        import llama_cpp

        if self.model:
            llama_cpp.llama_model_free(self.model)
            self.model = None


def meta_value(model: Any, key: str) -> str | None:
    """A GGUF metadata value as text (None when absent)."""
    import llama_cpp

    size = 1 << 16
    buf = ctypes.create_string_buffer(size)
    n = llama_cpp.llama_model_meta_val_str(model, key.encode(), buf, size)
    if n < 0:
        return None
    if n >= size:
        buf = ctypes.create_string_buffer(n + 1)
        llama_cpp.llama_model_meta_val_str(model, key.encode(), buf, n + 1)
    return buf.value.decode("utf-8", errors="replace")


def _eog_tokens(vocab: Any, n_vocab: int) -> list[int]:
    import llama_cpp

    return [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(vocab, t)]


def _model_dtype(model: Any) -> str:
    import llama_cpp

    buf = ctypes.create_string_buffer(256)
    llama_cpp.llama_model_desc(model, buf, len(buf))
    return buf.value.decode(errors="replace").rsplit(" ", 1)[-1] or "unknown"


def load_gguf(path: Path, model_path: str, context_length: int | None = None) -> GGUFModel:
    """Memory-map ``path`` with llama.cpp; raise a one-line ``ModelLoadError`` on any failure."""
    start = time.perf_counter()
    check_gguf_file(path)
    import llama_cpp

    log = LlamaLog.install()
    log.take()
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.use_mmap = True
    params.n_gpu_layers = 0
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        reason = load_failure_reason(log.take())
        raise ModelLoadError(f"Could not load the GGUF model '{path}': {reason}")
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
    n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(model))
    if context_length is not None and context_length > n_ctx_train:
        llama_cpp.llama_model_free(model)
        raise ModelLoadError(
            f"User-specified context_length ({context_length}) is greater than the derived "
            f"context_length ({n_ctx_train}) of the model."
        )
    template = llama_cpp.llama_model_chat_template(model, None)
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
    tokenizer = GGUFTokenizer(vocab, template.decode() if template else None, add_bos)
    arch = meta_value(model, "general.architecture") or "unknown"
    n_layer = int(llama_cpp.llama_model_n_layer(model))
    n_head = max(1, int(llama_cpp.llama_model_n_head(model)))
    n_head_kv = int(llama_cpp.llama_model_n_head_kv(model)) or n_head
    head_dim = int(llama_cpp.llama_model_n_embd(model)) // n_head
    info = ModelInfo(
        model_path=model_path,
        resolved_path=str(path),
        context_length=int(context_length or n_ctx_train),
        vocab_size=n_vocab,
        eos_token_ids=_eog_tokens(vocab, n_vocab),
        model_class=ARCHITECTURE_CLASSES.get(arch, f"{arch.capitalize()}ForCausalLM"),
        weight_bytes=int(llama_cpp.llama_model_size(model)),
        dtype=_model_dtype(model),
        load_seconds=time.perf_counter() - start,
        num_threads=thread_count(),
        kv_bytes_per_token=2 * n_layer * n_head_kv * head_dim * 2,  # f16 keys and values
        runner="llama.cpp",
        has_chat_template=bool(template),
    )
    return GGUFModel(model, vocab, tokenizer, info, n_ctx_train)
