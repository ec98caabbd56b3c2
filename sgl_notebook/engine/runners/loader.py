"""Build the runner for a ``--model-path``: llama.cpp for GGUF files (and ``smollm2``),
transformers for Hugging Face folders. Only the chosen runner's libraries are imported, so the
GGUF path never imports torch, transformers or xgrammar."""

from __future__ import annotations

import importlib.util
from typing import Any

from ..core.runner import ModelLoadError
from .resolve import LLAMA_CPP, choose_model

DEFAULT_MAX_TOTAL_TOKENS_GGUF = 8192  # llama.cpp allocates the KV cells up front
DEFAULT_MAX_TOTAL_TOKENS_TORCH = 32768  # torch grows the KV as requests need it
PREFIX_CACHE_TOKENS = 4096


def default_max_total_tokens(runner: str, context_length: int) -> int:
    if runner == LLAMA_CPP:
        return max(DEFAULT_MAX_TOTAL_TOKENS_GGUF, min(context_length, 4 * 8192))
    return max(DEFAULT_MAX_TOTAL_TOKENS_TORCH, context_length)


def load_runner(
    model_path: str,
    runner: str = "auto",
    *,
    context_length: int | None = None,
    max_total_tokens: int | None = None,
    max_running_requests: int = 16,
    prefix_cache_tokens: int = PREFIX_CACHE_TOKENS,
) -> Any:
    """A ready :class:`~sgl_notebook.engine.core.runner.ModelRunner` for ``model_path``.

    >>> runner = load_runner("smollm2")          # doctest: +SKIP
    >>> runner.info.runner, runner.info.dtype    # doctest: +SKIP
    ('llama.cpp', 'Q4_1')
    """
    choice = choose_model(model_path, runner)
    if choice.runner == LLAMA_CPP:
        from .llamacpp.gguf_model import load_gguf
        from .llamacpp.runner import LlamaCppRunner

        assert choice.path is not None
        gguf = load_gguf(choice.path, model_path, context_length)
        total = max_total_tokens or default_max_total_tokens(LLAMA_CPP, gguf.info.context_length)
        try:
            return LlamaCppRunner(gguf, total, max_running_requests, prefix_cache_tokens)
        except BaseException:
            gguf.close()
            raise
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelLoadError(
            f"'{model_path}' runs on the transformers runner, which needs {' and '.join(missing)}"
            ": pip install 'sgl-notebook[transformers]' (GGUF files run on llama.cpp without it)."
        )
    from .transformers.model import load_model
    from .transformers.runner import TransformersRunner

    loaded = load_model(model_path, context_length=context_length)
    return TransformersRunner(loaded, prefix_cache_tokens)
