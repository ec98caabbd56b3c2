# ruff: noqa: E501 -- recorded log lines are kept verbatim, one per line
"""Launch phases from recorded startup logs (SGLang 0.4.10 and 0.5.x, the CPU engine, vLLM)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sgl_notebook.protocol.phases import LaunchPhase, parse_phase_line

P = LaunchPhase

# SGLang 0.4.10, single GPU, default flags (reference §1.4), in emission order.
SGLANG_0410 = [
    ("[2025-07-28 04:59:40] server_args=ServerArgs(model_path='meta-llama/Llama-3.1-8B')", P.STARTING),
    ("[2025-07-28 04:59:42] Init torch distributed begin.", P.STARTING),
    ("[2025-07-28 04:59:42] Load weight begin. avail mem=78.50 GB", P.LOADING_WEIGHTS),
    ("Loading safetensors checkpoint shards:  25% Completed | 1/4 [00:01<00:03,  1.02s/it]", P.LOADING_WEIGHTS),
    ("[2025-07-28 04:59:47] Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=63.49 GB, mem usage=15.01 GB.", P.LOADING_WEIGHTS),
    ("[2025-07-28 04:59:47] KV Cache is allocated. #tokens: 413880, K size: 25.26 GB, V size: 25.26 GB", P.KV_CACHE),
    ("[2025-07-28 04:59:47] Memory pool end. avail mem=12.20 GB", P.KV_CACHE),
    ("[2025-07-28 04:59:48] Capture cuda graph begin. This can take up to several minutes. avail mem=12.10 GB", P.GRAPH_CAPTURE),
    ("Capturing batches (bs=160 avail_mem=11.9 GB):  50%|█████     | 12/23 [00:02<00:01,  5.1it/s]", P.GRAPH_CAPTURE),
    ("[2025-07-28 04:59:50] Capture cuda graph end. Time elapsed: 2.50 s. mem usage=0.60 GB. avail mem=11.50 GB.", P.GRAPH_CAPTURE),
    ("[2025-07-28 04:59:50] max_total_num_tokens=413880, chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=4096, context_len=131072, available_gpu_mem=11.50 GB", P.WARMUP),
    ("[2025-07-28 04:59:50] INFO:     Uvicorn running on http://127.0.0.1:30000 (Press CTRL+C to quit)", P.WARMUP),
    ("[2025-07-28 04:59:52] The server is fired up and ready to roll!", P.READY),
]

SGLANG_05 = [
    ("[2026-01-10 10:00:01.123] Load weight end. elapsed=3.20 s, type=Qwen3ForCausalLM, avail mem=60.0 GB, mem usage=16.0 GB.", P.LOADING_WEIGHTS),
    ("[2026-01-10 10:00:02.000 TP0] KV Cache is allocated. dtype: torch.bfloat16, #tokens: 100000, K size: 5.0 GB, V size: 5.0 GB", P.KV_CACHE),
    ("[2026-01-10 10:00:03] Capture target decode CUDA graph begin. backend=flashinfer, num_tokens_per_req=1, avail mem=20 GB", P.GRAPH_CAPTURE),
    ("[2026-01-10 10:00:09] Capture target decode CUDA graph end. bs=[1, 2, 4], elapsed=6.0 s, mem usage=1.0 GB, avail mem=19 GB.", P.GRAPH_CAPTURE),
    ("[2026-01-10 10:00:10] The server is fired up and ready to roll!", P.READY),
]

VLLM = [
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:58:40 [core.py:71] Initializing a V1 LLM engine (v0.10.1) with config: model='Qwen/Qwen3-8B'", P.STARTING),
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:58:42 [gpu_model_runner.py:1953] Starting to load model Qwen/Qwen3-8B...", P.LOADING_WEIGHTS),
    ("(EngineCore_DP0 pid=3402961) Loading safetensors checkpoint shards:  60% Completed | 3/5 [00:02<00:01,  1.30it/s]", P.LOADING_WEIGHTS),
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:58:47 [default_loader.py:262] Loading weights took 4.10 seconds", P.LOADING_WEIGHTS),
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:58:55 [gpu_worker.py:276] Available KV cache memory: 50.71 GiB", P.KV_CACHE),
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:58:56 [kv_cache_utils.py:849] GPU KV cache size: 369,248 tokens", P.KV_CACHE),
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:59:10 [gpu_model_runner.py:2567] Graph capturing finished in 14 secs, took 0.55 GiB", P.GRAPH_CAPTURE),
    ("(EngineCore_DP0 pid=3402961) INFO 08-17 02:59:10 [core.py:216] init engine (profile, create kv cache, warmup model) took 27.44 seconds", P.WARMUP),
    ("(APIServer pid=3402897) INFO 08-17 02:59:12 [api_server.py:1818] Starting vLLM API server 0 on http://0.0.0.0:8000", P.WARMUP),
    ("(APIServer pid=3402897) INFO:     Application startup complete.", P.READY),
]

FAILURES = [
    "[2025-07-28 05:00:01 TP0] Scheduler hit an exception: Traceback (most recent call last):",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB.",
    "[2025-07-28 05:00:01] Received sigquit from a child process. It usually means the child failed.",
    "[2025-07-28 05:00:01] Rank 0 scheduler is dead. Please check if there are relevant logs.",
    "RuntimeError: Rank 0 scheduler died during initialization (exit code: -9).",
    "OSError: nope/nope is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'",
    "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 30000): address already in use",
    "(EngineCore_DP0 pid=1) ERROR 08-17 02:59:10 [core.py:700] EngineCore failed to start.",
]


@pytest.mark.parametrize(("line", "phase"), SGLANG_0410 + SGLANG_05)
def test_sglang_and_cpu_startup_lines(line: str, phase: LaunchPhase) -> None:
    for dialect in ("sglang", "cpu"):
        event = parse_phase_line(line, dialect)
        assert event is not None and event.phase is phase, (line, event)


@pytest.mark.parametrize(("line", "phase"), VLLM)
def test_vllm_startup_lines(line: str, phase: LaunchPhase) -> None:
    event = parse_phase_line(line, "vllm")
    assert event is not None and event.phase is phase, (line, event)


@pytest.mark.parametrize("line", FAILURES)
def test_fatal_lines_are_failed(line: str) -> None:
    for dialect in ("sglang", "vllm"):
        event = parse_phase_line(line, dialect)
        assert event is not None and event.phase is P.FAILED


def test_shard_progress_and_timestamps() -> None:
    bar = parse_phase_line(SGLANG_0410[3][0])
    assert bar is not None and bar.progress == 0.25 and "1/4" in bar.message
    capture = parse_phase_line(SGLANG_0410[8][0])
    assert capture is not None and capture.progress == pytest.approx(12 / 23)
    ready = parse_phase_line(SGLANG_0410[-1][0])
    assert ready is not None and ready.timestamp == datetime(2025, 7, 28, 4, 59, 52)
    ms = parse_phase_line(SGLANG_05[0][0])
    assert ms is not None and ms.timestamp == datetime(2026, 1, 10, 10, 0, 1, 123000)


@pytest.mark.parametrize(
    "line",
    [
        "[2025-07-28 04:59:51] Prefill batch. #new-seq: 1, #new-token: 7, #cached-token: 0, ",
        '[2025-07-28 04:59:51] INFO:     127.0.0.1:51234 - "POST /generate HTTP/1.1" 200 OK',
        "(APIServer pid=1) INFO 08-17 02:59:34 [loggers.py:310] Engine 000: Avg prompt throughput: 5.7 tokens/s",
        "", "   ", "\x1b[32mINFO\x1b[0m", "Traceback (most recent call last):",
    ],
)
def test_other_lines_are_not_phases(line: str) -> None:
    assert parse_phase_line(line) is None
    assert parse_phase_line(line, "vllm") is None


@given(st.text(max_size=300), st.sampled_from(["sglang", "cpu", "vllm", "other"]))
def test_never_raises(line: str, dialect: str) -> None:
    parse_phase_line(line, dialect)
