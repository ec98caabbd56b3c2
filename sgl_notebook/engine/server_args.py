"""Command-line arguments of the CPU engine, named as SGLang 0.4.10's ``ServerArgs``.

The flags the CPU engine uses are parsed into :class:`ServerArgs`; every other SGLang flag (GPU
memory, parallelism, kernels...) is accepted and ignored, so the same extra arguments work for
both engines. This module imports neither torch nor transformers: a bad command line fails fast.

>>> args = parse_args(["--model-path", "smollm2", "--port", "31000", "--tp", "2"])
>>> args.port, args.ignored_flags
(31000, ['--tp 2'])
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "smollm2"

# SGLang 0.4.10 flags that take no value (``action="store_true"`` in srt/server_args.py).
_SGLANG_SWITCHES = frozenset(
    """
    allow-auto-truncate collect-tokens-histogram debug-tensor-dump-prefill-only
    delete-ckpt-after-loading disable-chunked-prefix-cache disable-cuda-graph
    disable-cuda-graph-padding disable-custom-all-reduce disable-fast-image-processor
    disable-hybrid-swa-memory disable-outlines-disk-cache disable-overlap-schedule
    disable-shared-experts-fusion enable-cudagraph-gc enable-custom-logit-processor
    enable-deepep-moe enable-double-sparsity enable-dp-attention enable-dp-lm-head
    enable-ep-moe enable-eplb enable-expert-distribution-metrics
    enable-flashinfer-allreduce-fusion enable-flashinfer-cutlass-moe
    enable-flashinfer-trtllm-moe enable-hierarchical-cache enable-lora enable-memory-saver
    enable-metrics-for-all-schedulers enable-mixed-chunk enable-mscclpp enable-multimodal
    enable-nan-detection enable-nccl-nvls enable-p2p-check enable-pdmux
    enable-profile-cuda-graph enable-request-time-stats-logging enable-return-hidden-states
    enable-symm-mem enable-tokenizer-batch-encode enable-torch-compile
    enable-triton-kernel-moe enable-two-batch-overlap flashinfer-mla-disable-ragged
    log-requests show-time-cost skip-tokenizer-init sleep-on-idle stream-output
    triton-attention-reduce-in-fp32 weight-loader-disable-mmap
    """.split()  # noqa: SIM905 -- a word list reads better than 190 quoted strings
)

# SGLang 0.4.10 flags that take one or more values and mean nothing on this engine.
_SGLANG_VALUED = frozenset(
    """
    attention-backend base-gpu-id bucket-e2e-request-latency bucket-inter-token-latency
    bucket-time-to-first-token completion-template constrained-json-whitespace-pattern
    cpu-offload-gb crash-dump-folder cuda-graph-bs cuda-graph-max-bs custom-weight-loader
    data-parallel-size debug-tensor-dump-inject debug-tensor-dump-input-file
    debug-tensor-dump-output-folder decode-attention-backend deepep-config deepep-mode
    device disaggregation-bootstrap-port disaggregation-decode-dp disaggregation-decode-tp
    disaggregation-ib-device disaggregation-mode disaggregation-prefill-pp
    disaggregation-transfer-backend dist-init-addr dist-timeout download-dir dp-size
    ds-channel-config-path ds-heavy-channel-num ds-heavy-channel-type ds-heavy-token-num
    ds-sparse-decode-threshold ep ep-dispatch-algorithm ep-num-redundant-experts ep-size
    eplb-algorithm eplb-rebalance-layers-per-chunk eplb-rebalance-num-iterations
    expert-distribution-recorder-buffer-size expert-distribution-recorder-mode
    expert-parallel-size file-storage-path gpu-id-step grammar-backend hicache-io-backend
    hicache-mem-layout hicache-ratio hicache-size hicache-storage-backend
    hicache-write-policy hybrid-kvcache-ratio init-expert-location json-model-override-args
    kv-cache-dtype kv-events-config load-balance-method load-format log-requests-level
    lora-backend lora-paths lora-target-modules max-loaded-loras max-lora-rank
    max-loras-per-batch max-micro-batch-size max-queued-requests mem-fraction-static
    mm-attention-backend model-impl model-loader-extra-config moe-a2a-backend
    moe-dense-tp-size nccl-init-addr nccl-port nnodes node-rank num-continuous-decode-steps
    num-reserved-decode-tokens page-size pdlb-url pipeline-parallel-size pp-size
    prefill-attention-backend quantization quantization-param-path reasoning-parser revision
    sampling-backend schedule-conservativeness schedule-policy sm-group-num
    speculative-accept-threshold-acc speculative-accept-threshold-single
    speculative-algorithm speculative-draft-model-path speculative-eagle-topk
    speculative-num-draft-tokens speculative-num-steps speculative-token-map
    swa-full-tokens-ratio tensor-parallel-size tokenizer-mode tool-call-parser
    torch-compile-max-bs torchao-config tp tp-size triton-attention-num-kv-splits warmups
    watchdog-timeout
    """.split()  # noqa: SIM905 -- a word list reads better than 190 quoted strings
)

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass
class ServerArgs:
    """The engine's settings; field names and defaults follow SGLang 0.4.10's ``ServerArgs``."""

    model_path: str = DEFAULT_MODEL
    tokenizer_path: str | None = None
    tokenizer_mode: str = "auto"
    skip_tokenizer_init: bool = False
    load_format: str = "auto"
    trust_remote_code: bool = False
    context_length: int | None = None
    is_embedding: bool = False
    host: str = "127.0.0.1"
    port: int = 30000
    skip_server_warmup: bool = False
    dtype: str = "auto"
    kv_cache_dtype: str = "auto"
    mem_fraction_static: float | None = None
    max_running_requests: int | None = None
    max_total_tokens: int | None = None
    chunked_prefill_size: int | None = None
    max_prefill_tokens: int = 16384
    schedule_policy: str = "fcfs"
    device: str = "cpu"
    tp_size: int = 1
    pp_size: int = 1
    dp_size: int = 1
    stream_interval: int = 1
    random_seed: int | None = None
    log_level: str = "info"
    log_level_http: str | None = None
    log_requests: bool = False
    show_time_cost: bool = False
    enable_metrics: bool = False
    decode_log_interval: int = 40
    api_key: str | None = None
    served_model_name: str | None = None
    chat_template: str | None = None
    enable_cache_report: bool = False
    disable_radix_cache: bool = False
    preferred_sampling_params: str | None = None
    runner: str = "auto"  # this engine's own: llama.cpp (GGUF) or transformers (HF folders)
    ignored_flags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tokenizer_path is None:
            self.tokenizer_path = self.model_path
        if self.served_model_name is None:
            self.served_model_name = self.model_path

    def url(self) -> str:
        """The base URL clients use (``http://host:port``)."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def as_info(self) -> dict[str, Any]:
        """The fields as ``/get_server_info`` lists them (without the CPU-only bookkeeping)."""
        info = dataclasses.asdict(self)
        info.pop("ignored_flags")
        return info

    def __repr__(self) -> str:
        # SGLang logs ``server_args=ServerArgs(...)`` with every field; the ignored GPU flags
        # are not settings of this engine, so they are not shown there.
        parts = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if f.name != "ignored_flags"
        )
        return f"ServerArgs({parts})"


class ArgsError(ValueError):
    """A command line the engine cannot run with; the message says what to change."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser for the flags the CPU engine understands."""
    p = argparse.ArgumentParser(
        prog="python -m sgl_notebook.engine",
        description=(
            "SGLang-protocol HTTP server for CPUs (laptops, Binder, CI): GGUF models on "
            "llama.cpp, Hugging Face folders on transformers. Other SGLang flags are accepted "
            "and ignored."
        ),
    )
    p.add_argument("--model-path", "--model", dest="model_path", default=DEFAULT_MODEL,
                   help="'smollm2' (bundled), a .gguf file, a Hugging Face folder or a hub id")
    p.add_argument("--tokenizer-path", default=None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=30000)
    p.add_argument("--api-key", default=None)
    p.add_argument("--enable-metrics", action="store_true")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS)
    p.add_argument("--log-level-http", default=None, choices=LOG_LEVELS)
    p.add_argument("--context-length", type=_positive_int, default=None)
    p.add_argument("--max-running-requests", type=_positive_int, default=None)
    p.add_argument("--max-total-tokens", type=_positive_int, default=None)
    p.add_argument("--chunked-prefill-size", type=int, default=None)
    p.add_argument("--max-prefill-tokens", type=int, default=16384)
    p.add_argument("--served-model-name", default=None)
    p.add_argument("--chat-template", default=None)
    p.add_argument("--enable-cache-report", action="store_true")
    p.add_argument("--disable-radix-cache", action="store_true")
    p.add_argument("--decode-log-interval", type=_positive_int, default=40)
    p.add_argument("--skip-server-warmup", action="store_true")
    p.add_argument("--is-embedding", action="store_true")
    p.add_argument("--trust-remote-code", action="store_true")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--random-seed", type=int, default=None)
    p.add_argument("--stream-interval", type=_positive_int, default=1)
    p.add_argument("--preferred-sampling-params", default=None)
    p.add_argument("--runner", default="auto", choices=("auto", "llama.cpp", "transformers"),
                   help="auto: llama.cpp for GGUF files and 'smollm2', transformers for folders")
    return p


def _split_ignored(argv: list[str]) -> tuple[list[str], list[str]]:
    """Separate SGLang-only flags (with their values) from the ones this engine parses."""
    kept: list[str] = []
    ignored: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        name = token[2:].split("=", 1)[0] if token.startswith("--") else ""
        if name in _SGLANG_SWITCHES:
            ignored.append(token)
            i += 1
        elif name in _SGLANG_VALUED:
            group = [token]
            i += 1
            # nargs="+" flags (--cuda-graph-bs 1 2 4) take every value up to the next flag.
            while "=" not in token and i < len(argv) and not argv[i].startswith("--"):
                group.append(argv[i])
                i += 1
            ignored.append(" ".join(group))
        else:
            kept.append(token)
            i += 1
    return kept, ignored


def parse_args(argv: list[str]) -> ServerArgs:
    """Parse a command line; unknown non-SGLang flags exit with argparse's usage error."""
    kept, ignored = _split_ignored(argv)
    ns = build_parser().parse_args(kept)
    values = vars(ns)
    if values["preferred_sampling_params"] is not None:
        try:
            json.loads(values["preferred_sampling_params"])
        except json.JSONDecodeError as exc:
            raise ArgsError(f"--preferred-sampling-params is not valid JSON: {exc}") from exc
    return ServerArgs(**values, ignored_flags=ignored)
