"""The CPU engine vs transformers' ``generate`` on the same model and machine, side by side.

Starts ``python -m sgl_notebook.engine`` (SmolLM2 by default) in a subprocess, measures it
through HTTP, and runs ``model.generate`` in this process for the baseline with the same torch
thread count. Engine and baseline rounds alternate (never at the same time), so both see the
same machine load. Prints every figure and ratio:

* single-stream decode tok/s (aim: parity with generate)
* total tok/s with 8 and 16 concurrent streams vs generate run sequentially (aim: 3x, 5x)
* time to first token with a 500-token cached prefix vs uncached (aim: under 25%)
* startup-to-ready from the converted model cache, and the server's peak RSS (aim: < 6 s, 1.2 GB)

    .venv/bin/python benchmarks/bench_engine.py [--model smollm2] [--tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

READY = "The server is fired up and ready to roll!"
PARAGRAPH = (
    "The river runs through the old city, past the market, the library and the station. "
    "People walk along its banks in the morning and sit by the water in the evening. "
)
PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how a bicycle stays upright.",
    "List some facts about the moon.",
    "Describe a walk through a forest in autumn.",
    "What makes a good cup of tea?",
    "Tell me about the history of the printing press.",
    "Why is the sky blue?",
    "Give advice to someone learning to cook.",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EngineProcess:
    """The HTTP engine in a subprocess; ``ready_seconds`` from spawn to the ready log line."""

    def __init__(self, model: str, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "sgl_notebook.engine",
            "--model-path",
            model,
            "--port",
            str(self.port),
            "--decode-log-interval",
            "1000",
        ]
        self.started = time.perf_counter()
        env = {**os.environ, "SGL_NOTEBOOK_NUM_THREADS": str(threads)}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env
        )
        self.ready = threading.Event()
        self.ready_seconds = float("nan")
        self.lines: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if READY in line and not self.ready.is_set():
                self.ready_seconds = time.perf_counter() - self.started
                self.ready.set()

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.5):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.lines[-30:])
                raise RuntimeError(f"engine did not become ready:\n{tail}")

    def peak_rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stream_generate(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST /generate with stream=true; time of the first and last token events."""
    start = time.perf_counter()
    first = last = None
    final: dict[str, Any] = {}
    with (
        httpx.Client(timeout=None) as client,
        client.stream("POST", f"{url}/generate", json={**payload, "stream": True}) as resp,
    ):
        resp.raise_for_status()
        for line in resp.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            event = json.loads(line[5:])
            now = time.perf_counter()
            if event["meta_info"]["completion_tokens"] >= 1 and first is None:
                first = now
            last, final = now, event
    assert first is not None and last is not None, final
    return {
        "ttft": first - start,
        "decode_seconds": last - first,
        "tokens": final["meta_info"]["completion_tokens"],
        "cached": final["meta_info"]["cached_tokens"],
        "total": last - start,
    }


def chat_text(tokenizer: Any, prompt: str) -> str:
    text: str = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return text


def sampling(tokens: int) -> dict[str, Any]:
    return {"max_new_tokens": tokens, "temperature": 0, "ignore_eos": True}


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


class Baseline:
    """transformers' ``generate``, greedy, one request at a time, same folder and thread count."""

    def __init__(self, folder: str, threads: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        self.run("Hello", 4)

    def run(self, prompt: str, n: int) -> float:
        text = chat_text(self.tokenizer, prompt)
        ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        start = time.perf_counter()
        with self.torch.inference_mode():
            self.model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        return time.perf_counter() - start

    def decode_tps(self, prompt: str, n: int) -> float:
        """Decode tok/s: the time of n tokens minus the time of the first one (the prefill)."""
        full, first = self.run(prompt, n), self.run(prompt, 1)
        return (n - 1) / (full - first)


def engine_single_tps(url: str, tokenizer: Any, prompt: str, tokens: int) -> float:
    payload = {"text": chat_text(tokenizer, prompt), "sampling_params": sampling(tokens)}
    one = stream_generate(url, payload)
    return float((one["tokens"] - 1) / one["decode_seconds"])


def engine_concurrent_tps(url: str, tokenizer: Any, n: int, tokens: int) -> float:
    texts = [chat_text(tokenizer, PROMPTS[i % len(PROMPTS)] + f" ({i})") for i in range(n)]
    results: list[dict[str, Any]] = []

    def one(text: str) -> None:
        results.append(stream_generate(url, {"text": text, "sampling_params": sampling(tokens)}))

    threads = [threading.Thread(target=one, args=(t,)) for t in texts]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(x["tokens"] for x in results) / (time.perf_counter() - start)


def engine_ttft(url: str, tokenizer: Any, rounds: int = 3) -> tuple[float, float, float]:
    """Median TTFT of a 500-token-prefix prompt right after a flush, then with the prefix cached."""
    prefix = tokenizer.decode(tokenizer.encode(PARAGRAPH * 40, add_special_tokens=False)[:500])
    cold, warm = [], []
    for i in range(rounds):
        httpx.post(f"{url}/flush_cache", timeout=60).raise_for_status()
        one = {"text": prefix + f" Question {i}: why?", "sampling_params": sampling(1)}
        cold.append(stream_generate(url, one))
        two = {"text": prefix + f" Question {i}: how so?", "sampling_params": sampling(1)}
        warm.append(stream_generate(url, two))
    return (
        statistics.median(x["ttft"] for x in cold),
        statistics.median(x["ttft"] for x in warm),
        statistics.median(x["cached"] for x in warm),
    )


def measure(url: str, baseline: Baseline, tokenizer: Any, tokens: int) -> dict[str, float]:
    """Engine and baseline rounds alternate, so both see the same machine load."""
    r: dict[str, float] = {}
    stream_generate(url, {"text": chat_text(tokenizer, "Hello"), "sampling_params": sampling(8)})
    engine_runs, base_runs = [], []
    for i in range(3):
        prompt = PROMPTS[i]
        engine_runs.append(engine_single_tps(url, tokenizer, prompt, tokens))
        base_runs.append(baseline.decode_tps(prompt, tokens))
        progress(f"single stream: engine {engine_runs[-1]:.1f}, generate {base_runs[-1]:.1f} tok/s")
    r["single_engine"] = statistics.median(engine_runs)
    r["single_generate"] = statistics.median(base_runs)
    for n in (8, 16):
        r[f"concurrent{n}"] = engine_concurrent_tps(url, tokenizer, n, tokens)
        seconds = [baseline.run(PROMPTS[3 + j], tokens) for j in range(2)]
        r[f"sequential{n}"] = tokens * len(seconds) / sum(seconds)
        progress(
            f"{n} streams: engine {r[f'concurrent{n}']:.1f}, sequential generate "
            f"{r[f'sequential{n}']:.1f} tok/s"
        )
    r["ttft_uncached"], r["ttft_cached"], r["cached_tokens"] = engine_ttft(url, tokenizer)
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per stream")
    args = parser.parse_args()
    # A terminated benchmark still stops its engine (the finally below runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from sgl_notebook.engine.runners.transformers.model import idle_cores, resolve_model_folder, usable_cores

    folder = str(resolve_model_folder(args.model))  # converts SmolLM2 once, before timing
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    threads = int(os.environ.get("SGL_NOTEBOOK_NUM_THREADS") or idle_cores(usable_cores()))
    engine = EngineProcess(args.model, threads)
    try:
        engine.wait_ready()
        progress(f"engine ready in {engine.ready_seconds:.2f} s ({threads} torch threads)")
        baseline = Baseline(folder, threads)
        r = measure(engine.url, baseline, tokenizer, args.tokens)
        rss = engine.peak_rss_bytes()
    finally:
        engine.stop()

    print(f"model: {args.model} ({folder}), {args.tokens} tokens per stream, {threads} threads")
    print(f"startup to ready (converted cache): {engine.ready_seconds:.2f} s   (aim < 6 s)")
    print(f"engine peak RSS: {rss / 1e9:.2f} GB   (aim < 1.2 GB)")
    s, g = r["single_engine"], r["single_generate"]
    print(f"single-stream decode: engine {s:.1f} tok/s, generate {g:.1f} tok/s, ratio {s / g:.2f}")
    for n, aim in ((8, 3), (16, 5)):
        c, q = r[f"concurrent{n}"], r[f"sequential{n}"]
        print(
            f"{n} concurrent streams: engine {c:.1f} tok/s total, generate sequential {q:.1f} "
            f"tok/s, ratio {c / q:.2f}   (aim {aim}x)"
        )
    cold, warm = r["ttft_uncached"], r["ttft_cached"]
    print(
        f"TTFT with a 500-token prefix: uncached {cold * 1000:.0f} ms, cached {warm * 1000:.0f} ms "
        f"({r['cached_tokens']:.0f} cached tokens), ratio {warm / cold:.2f}   (aim < 0.25)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
