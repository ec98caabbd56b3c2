"""The CPU engine against raw llama.cpp on the same GGUF, threads and machine, side by side.

Starts ``python -m sgl_notebook.engine`` (SmolLM2 by default, on the llama.cpp runner) in a
subprocess and measures it through HTTP ``/generate``. The baseline is llama-cpp-python's
low-level batch API in this process, on the same GGUF with the same thread count: every prompt
prefilled, then one ``llama_batch`` / ``llama_decode`` per step for all sequences, greedy argmax
in numpy, nothing else. Engine and baseline rounds alternate (never at the same time); each
figure is the best of ``--rounds``. Then the same load on the transformers runner. Prints:

* decode tok/s at 1, 4 and 16 streams, and the ratio to raw llama.cpp (aim >= 0.9), with the
  engine's radix cache off so that both compute the same tokens (the prompts share the chat
  template's system prompt); then 16 streams with it on, as a server starts by default
* time to first token of a 500-token prompt, cached vs uncached (aim: cached < 25% of uncached)
* start-up to ready (aim < 3 s) and the server's peak RSS while 16 streams run (aim < 500 MB)

    .venv/bin/python benchmarks/bench_engine.py [--tokens 48] [--rounds 3] [--skip-transformers]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

STREAMS = (1, 4, 16)
PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how a bicycle stays upright.",
    "List some facts about the moon.",
    "Describe a walk through a forest in autumn.",
    "What makes a good cup of tea?",
    "Tell me about the history of the printing press.",
    "Why is the sky blue?",
    "Give advice to someone learning to cook.",
    "How do plants make their food?",
    "Describe the water cycle in simple words.",
    "What should I pack for a day at the beach?",
    "Explain what a prime number is.",
    "Write a haiku about the sea.",
    "How does a refrigerator keep food cold?",
    "Tell me a fact about elephants.",
    "Why do leaves change colour in autumn?",
]  # 16 different prompts: identical ones would be computed once by the engine
PARAGRAPH = (
    "The river runs through the old city, past the market, the library and the station. "
    "People walk along its banks in the morning and sit by the water in the evening. "
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


class EngineProcess:
    """The HTTP engine in a subprocess; ``ready_seconds`` from spawn to ``/health`` 200."""

    def __init__(self, model: str, runner: str, threads: int, *extra_args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SGL_NOTEBOOK_NUM_THREADS": str(threads)}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sgl_notebook.engine", "--model-path", model,
             "--runner", runner, "--port", str(self.port), *extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the engine exited with {self.process.returncode}")
                try:
                    if client.get(self.url + "/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        self.ready_seconds = time.perf_counter() - started
        self.peak_rss = 0

    def rss(self) -> int:
        import psutil

        return int(psutil.Process(self.process.pid).memory_info().rss)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(30)


def chat_ids(tokenizer: Any, prompt: str) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    return list(tokenizer.encode(text, add_special_tokens=False))


def engine_tps(engine: EngineProcess, prompts: list[list[int]], tokens: int) -> float:
    """Total completion tokens / wall time of ``len(prompts)`` concurrent /generate requests."""
    body = {"temperature": 0, "max_new_tokens": tokens, "ignore_eos": True}
    stop = threading.Event()

    def watch_rss() -> None:
        while not stop.is_set():
            engine.peak_rss = max(engine.peak_rss, engine.rss())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch_rss, daemon=True)
    watcher.start()
    with httpx.Client(trust_env=False, timeout=600) as client:
        client.post(engine.url + "/flush_cache")
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
            results = list(pool.map(
                lambda ids: client.post(
                    engine.url + "/generate", json={"input_ids": ids, "sampling_params": body}
                ).json(),
                prompts,
            ))
        elapsed = time.perf_counter() - started
    stop.set()
    watcher.join()
    return sum(r["meta_info"]["completion_tokens"] for r in results) / elapsed


def engine_ttft(engine: EngineProcess, prompt: list[int]) -> tuple[float, float]:
    """TTFT (s) of one streamed request for ``prompt``: after a flush, then again (cached)."""
    body = {"input_ids": prompt, "stream": True,
            "sampling_params": {"temperature": 0, "max_new_tokens": 4}}
    times = []
    with httpx.Client(trust_env=False, timeout=600) as client:
        client.post(engine.url + "/flush_cache")
        for _ in range(2):
            started = time.perf_counter()
            first = None
            with client.stream("POST", engine.url + "/generate", json=body) as res:
                for line in res.iter_lines():
                    if first is None and line.startswith("data:"):
                        first = time.perf_counter() - started
            assert first is not None, "no streamed event"
            times.append(first)
    return times[0], times[1]


class RawLlamaCpp:
    """The baseline: llama-cpp-python's low-level batch API, nothing around it."""

    def __init__(self, gguf: Path, threads: int, n_ctx: int = 8192, n_seq: int = 16) -> None:
        import llama_cpp as ll

        self.ll = ll
        ll.llama_backend_init()
        self._quiet = ll.llama_log_callback(lambda *a: None)  # kept alive: llama.cpp calls it
        ll.llama_log_set(self._quiet, ctypes.c_void_p(0))
        mparams = ll.llama_model_default_params()
        self.model = ll.llama_model_load_from_file(str(gguf).encode(), mparams)
        cparams = ll.llama_context_default_params()
        cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = n_ctx, 2048, 512
        cparams.n_seq_max, cparams.kv_unified = n_seq, True
        cparams.n_threads = cparams.n_threads_batch = threads
        cparams.no_perf = True
        self.ctx = ll.llama_init_from_model(self.model, cparams)
        self.mem = ll.llama_get_memory(self.ctx)
        self.n_vocab = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(self.model))
        self.batch = ll.llama_batch_init(2048, 0, 1)

    def _decode(self, items: list[tuple[int, int, int, bool]]) -> np.ndarray:
        b = self.batch
        for i, (tok, pos, seq, logits) in enumerate(items):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, logits
            b.seq_id[i][0] = seq
        b.n_tokens = len(items)
        assert self.ll.llama_decode(self.ctx, b) == 0
        n_out = sum(x[3] for x in items)
        ptr = self.ll.llama_get_logits(self.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab)).copy()

    def generate(self, prompts: list[list[int]], tokens: int) -> float:
        """tok/s generating ``tokens`` greedy tokens for every prompt at once (prefill included)."""
        self.ll.llama_memory_clear(self.mem, True)
        started = time.perf_counter()
        items = [
            (t, p, s, p == len(ids) - 1) for s, ids in enumerate(prompts) for p, t in enumerate(ids)
        ]
        nxt = np.argmax(self._decode(items), axis=-1)
        positions = [len(ids) for ids in prompts]
        for _ in range(tokens - 1):
            items = [(int(nxt[s]), positions[s], s, True) for s in range(len(prompts))]
            nxt = np.argmax(self._decode(items), axis=-1)
            positions = [p + 1 for p in positions]
        return len(prompts) * tokens / (time.perf_counter() - started)

    def ttft(self, prompt: list[int]) -> float:
        self.ll.llama_memory_clear(self.mem, True)
        started = time.perf_counter()
        self._decode([(t, p, 0, p == len(prompt) - 1) for p, t in enumerate(prompt)])
        return time.perf_counter() - started


def load_tokenizer() -> Any:
    from sgl_notebook.engine.runners.loader import load_runner

    return load_runner("smollm2", max_total_tokens=512, max_running_requests=1)


def best(values: list[float], higher: bool = True) -> float:
    return max(values) if higher else min(values)


def run_llamacpp(args: argparse.Namespace, threads: int, tokenizer: Any) -> dict[str, float]:
    from sgl_notebook.engine.runners.resolve import smollm2_gguf_path

    prompts = [chat_ids(tokenizer, PROMPTS[i % len(PROMPTS)]) for i in range(max(STREAMS))]
    long_prompt = tokenizer.encode(PARAGRAPH * 16, add_special_tokens=False)[:500]
    raw = RawLlamaCpp(smollm2_gguf_path(), threads)
    # Throughput with the radix cache off: the chat template's system prompt is a prefix every
    # prompt shares, which the engine would compute once and the baseline for every prompt.
    engine = EngineProcess("smollm2", "llama.cpp", threads, "--disable-radix-cache")
    out: dict[str, float] = {}
    try:
        for n in STREAMS:
            mine, theirs = [], []
            for r in range(args.rounds):
                progress(f"llama.cpp: {n} streams, round {r + 1}")
                mine.append(engine_tps(engine, prompts[:n], args.tokens))
                theirs.append(raw.generate(prompts[:n], args.tokens))
                progress(f"   engine {mine[-1]:.1f} tok/s, raw {theirs[-1]:.1f} tok/s")
            out[f"engine_{n}"], out[f"raw_{n}"] = best(mine), best(theirs)
        out["peak_rss_mb"] = engine.peak_rss / 2**20
    finally:
        engine.stop()
    engine = EngineProcess("smollm2", "llama.cpp", threads)  # as a user starts it
    out["ready_s"] = engine.ready_seconds
    try:
        ttfts = [engine_ttft(engine, long_prompt) for _ in range(args.rounds)]
        out["ttft_uncached"] = best([t[0] for t in ttfts], higher=False)
        out["ttft_cached"] = best([t[1] for t in ttfts], higher=False)
        out["raw_ttft"] = best([raw.ttft(long_prompt) for _ in range(args.rounds)], higher=False)
        n = max(STREAMS)
        progress(f"llama.cpp: {n} streams with the radix cache on")
        out["engine_radix_16"] = best(
            [engine_tps(engine, prompts[:n], args.tokens) for _ in range(args.rounds)]
        )
    finally:
        engine.stop()
    return out


def run_transformers(args: argparse.Namespace, threads: int, tokenizer: Any) -> dict[str, float]:
    prompts = [chat_ids(tokenizer, PROMPTS[i % len(PROMPTS)]) for i in range(max(STREAMS))]
    progress("transformers runner: starting (converts SmolLM2 once)")
    engine = EngineProcess("smollm2", "transformers", threads, "--disable-radix-cache")
    out: dict[str, float] = {"ready_s": engine.ready_seconds}
    try:
        for n in STREAMS:
            progress(f"transformers: {n} streams")
            out[f"engine_{n}"] = engine_tps(engine, prompts[:n], args.tokens)
        out["peak_rss_mb"] = engine.peak_rss / 2**20
    finally:
        engine.stop()
    return out


def report(ll: dict[str, float], tf: dict[str, float] | None, threads: int, tokens: int) -> None:
    print(f"\nSmolLM2-135M-Instruct Q4_1, {threads} threads, {tokens} greedy tokens per stream")
    print(f"{'streams':>8} {'engine tok/s':>13} {'raw llama.cpp':>14} {'ratio':>6}"
          + (f" {'transformers':>13}" if tf else ""))
    ratios = []
    for n in STREAMS:
        ratio = ll[f"engine_{n}"] / ll[f"raw_{n}"]
        ratios.append(ratio)
        extra = f" {tf[f'engine_{n}']:>13.1f}" if tf else ""
        print(f"{n:>8} {ll[f'engine_{n}']:>13.1f} {ll[f'raw_{n}']:>14.1f} {ratio:>6.2f}{extra}")
    print(f"(the engine's radix cache off, so both compute every prompt in full; on, as by "
          f"default, the shared chat-template prefix is computed once: {ll['engine_radix_16']:.1f}"
          f" tok/s at {max(STREAMS)} streams)")
    ttft_ratio = ll["ttft_cached"] / ll["ttft_uncached"]
    print(f"\nthroughput ratio vs raw llama.cpp: min {min(ratios):.2f} (aim >= 0.90: "
          f"{'met' if min(ratios) >= 0.9 else 'NOT met'})")
    print(f"TTFT, 500-token prompt: uncached {ll['ttft_uncached'] * 1000:.0f} ms, cached "
          f"{ll['ttft_cached'] * 1000:.0f} ms -> {ttft_ratio:.2f} (aim < 0.25: "
          f"{'met' if ttft_ratio < 0.25 else 'NOT met'}); raw llama.cpp prefill "
          f"{ll['raw_ttft'] * 1000:.0f} ms")
    print(f"start-up to ready: {ll['ready_s']:.2f} s (aim < 3 s: "
          f"{'met' if ll['ready_s'] < 3 else 'NOT met'})"
          + (f"; transformers runner {tf['ready_s']:.2f} s" if tf else ""))
    print(f"peak RSS with 16 streams: {ll['peak_rss_mb']:.0f} MB (aim < 500 MB: "
          f"{'met' if ll['peak_rss_mb'] < 500 else 'NOT met'})"
          + (f"; transformers runner {tf['peak_rss_mb']:.0f} MB" if tf else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    from sgl_notebook.engine.runners.resolve import thread_count

    threads = thread_count()
    tokenizer = load_tokenizer().tokenizer
    ll = run_llamacpp(args, threads, tokenizer)
    tf = None if args.skip_transformers else run_transformers(args, threads, tokenizer)
    report(ll, tf, threads, args.tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
