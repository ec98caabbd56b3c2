"""The CPU engine vs transformers' ``generate`` on the same model and machine, side by side.

Starts ``python -m sgl_notebook.engine`` (SmolLM2 by default) in a subprocess, measures it
through HTTP, and runs ``model.generate`` in this process for the baseline, one after the other
so they never share the CPU. Prints every figure and ratio:

* single-stream decode tok/s (aim: parity with generate)
* total tok/s with 8 and 16 concurrent streams vs generate run sequentially (aim: 3x, 5x)
* time to first token with a 500-token cached prefix vs uncached (aim: under 25%)
* startup-to-ready from the converted model cache, and the server's peak RSS (aim: < 6 s, 1.2 GB)

    .venv/bin/python benchmarks/bench_engine.py [--model smollm2] [--tokens 64]
"""

from __future__ import annotations

import argparse
import json
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

    def __init__(self, model: str) -> None:
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
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
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


def bench_engine(url: str, tokenizer: Any, tokens: int) -> dict[str, float]:
    r: dict[str, float] = {}
    stream_generate(url, {"text": chat_text(tokenizer, "Hello"), "sampling_params": sampling(8)})
    single = stream_generate(
        url, {"text": chat_text(tokenizer, PROMPTS[0]), "sampling_params": sampling(tokens)}
    )
    r["single_decode_tps"] = (single["tokens"] - 1) / single["decode_seconds"]
    progress(f"engine single stream: {r['single_decode_tps']:.1f} tok/s")
    for n in (8, 16):
        texts = [chat_text(tokenizer, PROMPTS[i % len(PROMPTS)] + f" ({i})") for i in range(n)]
        results: list[dict[str, Any]] = []
        start = time.perf_counter()

        def one(text: str, into: list[dict[str, Any]] = results) -> None:
            into.append(stream_generate(url, {"text": text, "sampling_params": sampling(tokens)}))

        threads = [threading.Thread(target=one, args=(t,)) for t in texts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        r[f"concurrent{n}_tps"] = sum(x["tokens"] for x in results) / wall
        progress(f"engine {n} streams: {r[f'concurrent{n}_tps']:.1f} tok/s total")
    prefix = tokenizer.decode(tokenizer.encode(PARAGRAPH * 40, add_special_tokens=False)[:500])
    cold, warm = [], []
    for i in range(3):
        httpx.post(f"{url}/flush_cache", timeout=60).raise_for_status()
        one = {"text": prefix + f" Question {i}: why?", "sampling_params": sampling(1)}
        cold.append(stream_generate(url, one))
        two = {"text": prefix + f" Question {i}: how so?", "sampling_params": sampling(1)}
        warm.append(stream_generate(url, two))
    r["ttft_uncached"] = statistics.median(x["ttft"] for x in cold)
    r["ttft_cached"] = statistics.median(x["ttft"] for x in warm)
    r["cached_tokens"] = statistics.median(x["cached"] for x in warm)
    return r


def bench_generate(folder: str, tokens: int) -> dict[str, float]:
    """transformers' generate, greedy, one request at a time, same model folder and threads."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sgl_notebook.engine.model import configure_threads

    configure_threads()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()

    def run(prompt: str, n: int) -> float:
        ids = tokenizer(chat_text(tokenizer, prompt), return_tensors="pt", add_special_tokens=False)
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        return time.perf_counter() - start

    run("Hello", 4)
    progress("transformers generate baseline")
    full = run(PROMPTS[0], tokens)
    first = run(PROMPTS[0], 1)
    sequential = [run(p, tokens) for p in PROMPTS[1:3]]
    return {
        "single_decode_tps": (tokens - 1) / (full - first),
        "sequential_tps": tokens * len(sequential) / sum(sequential),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per stream")
    args = parser.parse_args()
    # A terminated benchmark still stops its engine (the finally below runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from sgl_notebook.engine.model import resolve_model_folder

    folder = str(resolve_model_folder(args.model))  # converts SmolLM2 once, before timing
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    engine = EngineProcess(args.model)
    try:
        engine.wait_ready()
        progress(f"engine ready in {engine.ready_seconds:.2f} s")
        served = bench_engine(engine.url, tokenizer, args.tokens)
        rss = engine.peak_rss_bytes()
    finally:
        engine.stop()
    base = bench_generate(folder, args.tokens)

    print(f"model: {args.model} ({folder}), {args.tokens} tokens per stream")
    print(f"startup to ready (converted cache): {engine.ready_seconds:.2f} s   (aim < 6 s)")
    print(f"engine peak RSS: {rss / 1e9:.2f} GB   (aim < 1.2 GB)")
    s, g = served["single_decode_tps"], base["single_decode_tps"]
    print(f"single-stream decode: engine {s:.1f} tok/s, generate {g:.1f} tok/s, ratio {s / g:.2f}")
    for n, aim in ((8, 3), (16, 5)):
        c, q = served[f"concurrent{n}_tps"], base["sequential_tps"]
        print(
            f"{n} concurrent streams: engine {c:.1f} tok/s total, generate sequential {q:.1f} "
            f"tok/s, ratio {c / q:.2f}   (aim {aim}x)"
        )
    cold, warm = served["ttft_uncached"], served["ttft_cached"]
    print(
        f"TTFT with a 500-token prefix: uncached {cold * 1000:.0f} ms, cached {warm * 1000:.0f} ms "
        f"({served['cached_tokens']:.0f} cached tokens), ratio {warm / cold:.2f}   (aim < 0.25)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
