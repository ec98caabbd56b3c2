"""SGLang's router in front of two CPU-engine workers, against one worker reached directly.

One run starts two workers and the router (``sn.launch(model, replicas=2)``) and measures, with
the same requests (greedy, fixed length):

1. **Added latency**: one client, short requests (one new token) one after another, alternating
   between worker 1 directly and the router (so load from elsewhere hits both alike). The p50
   difference is the time the router adds per request (its HTTP hop, re-serialising the body,
   routing).
2. **Aggregate throughput**: ``--clients`` clients at once, the same number of requests, to
   worker 1 directly and then through the router to both workers: requests per second, and the
   ratio router/direct.

    python benchmarks/bench_router.py [--model smollm2|PATH] [--requests 24] [--clients 4]
        [--tokens 8] [--policy round_robin]

On a machine with few cores both workers share the same cores, so the throughput ratio shows the
router's overhead, not scaling: with a core (or a GPU) per worker, two workers serve about twice
the requests. The output says which case this machine is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sgl_notebook as sn  # noqa: E402

PROMPT = "Tell me about the sea, the wind and the lighthouse keeper who watched them."


def one_request(client: httpx.Client, url: str, tokens: int, index: int) -> float:
    """Seconds for one native /generate (a distinct prompt suffix, so no request is a copy)."""
    body = {"text": f"{PROMPT} ({index})",
            "sampling_params": {"max_new_tokens": tokens, "temperature": 0, "ignore_eos": True}}
    start = time.perf_counter()
    response = client.post(url + "/generate", json=body)
    response.raise_for_status()
    return time.perf_counter() - start


def alternating(direct: str, router: str, requests: int) -> tuple[list[float], list[float]]:
    """One-token requests, direct and through the router in turn: (direct, router) seconds."""
    times: tuple[list[float], list[float]] = ([], [])
    with httpx.Client(timeout=300, trust_env=False) as client:
        for url in (direct, router):
            one_request(client, url, 1, -1)  # warm the connections and the workers
        for i in range(requests):
            for side, url in enumerate((direct, router)):
                times[side].append(one_request(client, url, 1, i))
    return times


def concurrent(url: str, requests: int, clients: int, tokens: int) -> float:
    """Requests per second with ``clients`` clients sending ``requests`` in all."""
    with httpx.Client(timeout=300, trust_env=False,
                      limits=httpx.Limits(max_connections=clients)) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda i: one_request(client, url, tokens, 1000 + i), range(requests)))
        return requests / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model of the CPU engine (its default)")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--policy", default="round_robin")
    args = parser.parse_args()

    print(f"starting 2 workers ({args.model or 'the default model'}) and the router ...",
          flush=True)
    group = sn.launch(args.model, engine="cpu", replicas=2, router_policy=args.policy,
                      name="bench-router")
    try:
        direct_url, router_url = group.workers[0].url, group.url
        seq_direct, seq_router = alternating(direct_url, router_url, args.requests)
        rps_direct = concurrent(direct_url, args.requests, args.clients, args.tokens)
        rps_router = concurrent(router_url, args.requests, args.clients, args.tokens)
        split = group.split()
    finally:
        group.stop()

    p50_direct, p50_router = statistics.median(seq_direct), statistics.median(seq_router)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n{args.requests} requests of {args.tokens} tokens; policy {args.policy}; "
          f"{cores} CPU cores")
    print(f"{'':34}{'direct (1 worker)':>20}{'router (2 workers)':>20}")
    print(f"{'p50 latency, 1 token (ms)':34}{p50_direct * 1e3:>20.1f}{p50_router * 1e3:>20.1f}")
    print(f"{'throughput, ' + str(args.clients) + ' clients (req/s)':34}"
          f"{rps_direct:>20.2f}{rps_router:>20.2f}")
    print(f"\nrouter's added p50 latency per request: {(p50_router - p50_direct) * 1e3:+.1f} ms")
    print(f"aggregate throughput ratio (router to 2 / direct to 1): {rps_router / rps_direct:.2f}x")
    print(f"requests per worker through the router: {split}")
    if (cores or 1) < 4:
        print(f"\nnote: {cores} cores are shared by both workers (and the client), so this ratio "
              "shows the router's overhead, not scaling; with a core or GPU per worker, two "
              "workers serve about twice the requests.")


if __name__ == "__main__":
    main()
