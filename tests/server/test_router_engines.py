"""SGLang's real router over two real CPU engines (the tiny model): answers through the router
(openai, native, the frontend language), round robin uses both workers, cache-aware routing keeps
a shared prefix on one worker (its cached tokens show it), a killed worker is reported and the
other one serves, and stop leaves nothing behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import sgl_notebook as sn
from sgl_notebook.server.ports import port_is_free
from sgl_notebook.server.registry import find_record
from sgl_notebook.server.router_group import Router
from tests.fixtures.waits import eventually, processes_gone


def tree(pid: int) -> list[int]:
    return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]


@pytest.fixture(scope="module")
def pair(tiny_model_dir: Path) -> Iterator[Router]:
    routed = sn.launch(str(tiny_model_dir), engine="cpu", replicas=2,
                       router_policy="round_robin", name="rr")
    try:
        yield routed
    finally:
        routed.stop()


def test_answers_go_through_the_router(pair: Router) -> None:
    import sglang as sgl

    assert pair.url not in [w.url for w in pair.workers]
    reply = pair.client().chat.completions.create(
        model=pair.model, messages=[{"role": "user", "content": "hello"}], max_tokens=4
    )
    assert reply.choices[0].finish_reason in ("length", "stop")
    assert reply.usage.completion_tokens <= 4
    streamed = pair.client().completions.create(
        model=pair.model, prompt="Once upon", max_tokens=4, stream=True
    )
    assert len([chunk for chunk in streamed]) >= 2
    result = pair.generate("The capital of France is", max_new_tokens=3, temperature=0)
    assert result.meta_info["completion_tokens"] <= 3
    assert isinstance(pair.chat("hi", max_tokens=3).text, str)

    @sgl.function
    def answer(s: object, question: str) -> None:
        s += sgl.user(question)  # type: ignore[operator]
        s += sgl.assistant(sgl.gen("answer", max_tokens=3, temperature=0))  # type: ignore[operator]

    state = answer.run(question="What is 1+1?", backend=pair.backend())
    assert state.get_meta_info("answer")["completion_tokens"] <= 3


def test_round_robin_uses_both_workers(pair: Router) -> None:
    before = {name: n for name, n in pair.split().items()}
    for i in range(6):
        pair.generate(f"request {i}", max_new_tokens=2)
    after = pair.split()
    served = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    assert served == {"rr-w1": 3, "rr-w2": 3}
    # each worker's own log saw requests: its stats are its own
    for worker in pair.workers:
        assert any("Prefill batch" in line for line in worker.logs(500)), worker.name
    history = pair.router_stats.df()
    assert set(history["worker"]) == {w.url for w in pair.workers}


def test_cache_aware_keeps_a_prefix_on_one_worker_and_survives_a_killed_worker(
    tiny_model_dir: Path,
) -> None:
    routed = sn.launch(str(tiny_model_dir), engine="cpu", replicas=2,
                       router_policy="cache_aware", name="ca")
    try:
        prefix = "the quick brown fox jumps over the lazy dog and " * 12
        cached = []
        for i in range(4):
            result = routed.generate(prefix + f"then number {i}", max_new_tokens=2, temperature=0)
            cached.append(result.meta_info.get("cached_tokens", 0))
        split = routed.split()
        assert sorted(split.values()) in ([4.0], [0.0, 4.0]), split
        assert all(n > 50 for n in cached[1:]), cached  # the prefix was reused on that worker
        # kill the worker that holds the prefix: the notebook says so at once, the other serves
        busy = next(w for w in routed.workers if split.get(w.name))
        spare = next(w for w in routed.workers if w is not busy)
        os.killpg(busy.record.pgid, signal.SIGKILL)
        assert processes_gone(tree(busy.pid) if psutil.pid_exists(busy.pid) else [busy.pid], 20.0)
        assert routed.worker_health() == {busy.name: False, spare.name: True}
        assert eventually(lambda: routed.removed)  # the notebook takes it out of the router
        result = routed.generate(prefix + "after the crash", max_new_tokens=2)
        assert result.meta_info["completion_tokens"] <= 2
        assert routed.readiness() == {"status": "ready", "healthy_workers": 1,
                                      "total_workers": 1}
        assert routed.removed == [busy.name]
        assert any(f"worker {busy.name}" in line and "exited" in line for line in routed.logs())
        pids = tree(routed.pid) + tree(spare.pid)
        ports = [routed.port, spare.port]
    finally:
        routed.stop()
    assert processes_gone(pids, 20.0)
    assert all(port_is_free("127.0.0.1", p) for p in ports)
    assert find_record("ca") is None and find_record("ca-w2") is None
