"""Client overhead of a streaming ``%%sgl`` cell against the raw ``openai`` client, same stream.

Both run in one real IPython kernel (jupyter_client) against one CPU-engine server, alternating,
with greedy decoding so every run streams the same tokens. The figure is the kernel's CPU time
(``time.process_time``: all its threads, the widget's comm messages included) per streamed token.
Baselines: the raw client printing each delta, as SGLang's docs do
(``print(delta, end="", flush=True)``), and the raw client that only concatenates (the floor).

    python benchmarks/bench_magics.py [--model smollm2|PATH] [--tokens 256] [--rounds 3]

Prints the medians, the stream's token rate, and the ratios ``%%sgl / raw``. ``%%sgl`` parses
the chunks as plain dicts (the raw client builds a pydantic object per chunk), so its own
per-token path is cheaper than the raw client's; the live view then costs a fixed amount per
redraw (~0.8 ms of kernel CPU, nearly all of it the widget's one comm message through
ipykernel's IOPub thread: waking it, serialising, signing), at most ``SglMagics.update_rate``
redraws a second (default 10). Its share per token therefore depends on the token rate: small
on a fast stream, largest when tokens come about as often as redraws (~10-20 tok/s).
``%%sgl 20/s`` runs with ``update_rate = 20`` to show the trade-off.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.magics.kernel_session import KernelSession  # noqa: E402  (a small jupyter_client helper)

PROMPT = "Write a long story about a lighthouse keeper and a storm."

RAW = """
import time, openai, json
_client = openai.OpenAI(base_url={url!r} + "/v1", api_key="EMPTY", max_retries=0)
_t0 = time.process_time(); _w0 = time.perf_counter(); _n = 0; _text = ""
for _chunk in _client.chat.completions.create(
    model="m", messages=[{{"role": "user", "content": {prompt!r}}}], max_tokens={tokens},
    temperature=0, stream=True, stream_options={{"include_usage": True}},
):
    if _chunk.choices and _chunk.choices[0].delta.content:
        _text += _chunk.choices[0].delta.content
        {show}
    if _chunk.usage:
        _n = _chunk.usage.completion_tokens
print("\\nRESULT", json.dumps([time.process_time() - _t0, _n, time.perf_counter() - _w0]))
"""

MAGIC = """
import time, json
get_ipython().run_line_magic("config", "SglMagics.update_rate = {rate}")
_t0 = time.process_time(); _w0 = time.perf_counter()
get_ipython().run_cell_magic("sgl", "--max-tokens {tokens} --temperature 0 -o _r", {prompt!r})
_cpu, _wall = time.process_time() - _t0, time.perf_counter() - _w0
print("RESULT", json.dumps([_cpu, _r.usage["completion_tokens"], _wall]))
"""


def _measure(kernel: KernelSession, code: str, rates: list[float] | None = None) -> float:
    """Kernel CPU seconds per token of one run; its token rate (tokens / wall s) into ``rates``."""
    out = kernel.ok(code, timeout=600).stdout()
    cpu, tokens, wall = json.loads(out.rsplit("RESULT", 1)[1])
    if rates is not None:
        rates.append(int(tokens) / max(float(wall), 1e-9))
    return float(cpu) / max(int(tokens), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="model for the CPU engine")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import sgl_notebook

    server = sgl_notebook.launch(args.model, engine="cpu", name="bench-magics")
    kernel = KernelSession()
    try:
        kernel.ok("%load_ext sgl_notebook")
        kernel.ok(f"%sgl connect {server.url} --name bench")
        fill = {"url": server.url, "prompt": PROMPT, "tokens": args.tokens}
        codes = {
            "raw, print": RAW.format(
                show='print(_chunk.choices[0].delta.content, end="", flush=True)', **fill
            ),
            "raw, silent": RAW.format(show="pass", **fill),
            "%%sgl": MAGIC.format(rate=10, **fill),
            "%%sgl 20/s": MAGIC.format(rate=20, **fill),
        }
        _measure(kernel, codes["%%sgl"])  # warm-up: imports, client, prefix cache
        _measure(kernel, codes["raw, silent"])
        samples: dict[str, list[float]] = {name: [] for name in codes}
        rates: list[float] = []
        for _ in range(args.rounds):
            for name, code in codes.items():
                samples[name].append(_measure(kernel, code, rates))
    finally:
        kernel.close()
        server.stop()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"kernel CPU per streamed token, {args.tokens} tokens x {args.rounds} rounds, "
        f"model {args.model}, streams at {statistics.median(rates):.0f} tok/s "
        f"({min(rates):.0f}-{max(rates):.0f})"
    )
    for name, value in medians.items():
        print(
            f"  {name:12s} {value * 1e3:7.3f} ms/token   runs: "
            + ", ".join(f"{v * 1e3:.3f}" for v in samples[name])
        )
    print(f"ratio %%sgl / raw (print):  {medians['%%sgl'] / medians['raw, print']:.2f}")
    print(f"ratio %%sgl / raw (silent): {medians['%%sgl'] / medians['raw, silent']:.2f}")
    print(
        "ratio %%sgl at 20 redraws/s / raw (silent): "
        f"{medians['%%sgl 20/s'] / medians['raw, silent']:.2f}"
    )


if __name__ == "__main__":
    main()
