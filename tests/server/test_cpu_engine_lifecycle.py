"""Real CPU-engine servers on the tiny model: launch, use through openai and sglang, stop."""

from __future__ import annotations

from pathlib import Path

import httpx
import psutil
import pytest

import sgl_notebook as sn
from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.server.ports import port_is_free
from tests.server.conftest import launch_concurrently

pytestmark = pytest.mark.usefixtures("no_leaks")


def _tree(pid: int) -> list[int]:
    return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]


def _gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def test_cpu_engine_launch_use_stop(tiny_model_dir: Path) -> None:
    import sglang as sgl

    seen: list[PhaseEvent] = []
    server = sn.launch(str(tiny_model_dir), engine="cpu", api_key="auto", on_phase=seen.append)
    try:
        assert [e.phase for e in seen][-1] is LaunchPhase.READY
        assert LaunchPhase.LOADING_WEIGHTS in [e.phase for e in seen]
        assert server.engine == "cpu" and "engine='cpu'" in server.engine_reason
        # openai client with the key
        reply = server.client().chat.completions.create(
            model=server.model, messages=[{"role": "user", "content": "hello"}], max_tokens=4
        )
        assert reply.choices[0].finish_reason in ("length", "stop")
        assert reply.usage.completion_tokens <= 4
        # without the key: 401
        response = httpx.post(server.url + "/generate", json={"text": "hi"}, trust_env=False)
        assert response.status_code == 401
        # native generate through the Server, and a streamed chat
        result = server.generate("The capital of France is", max_new_tokens=4, temperature=0)
        assert result.meta_info["completion_tokens"] <= 4 and isinstance(result.text, str)
        deltas = list(server.chat("hi", stream=True, max_tokens=4))
        assert deltas and all(isinstance(d, str) for d in deltas)
        # the frontend language, with the ChatML template chosen for this model
        backend = server.backend()
        assert backend.chat_template.name == "chatml"

        @sgl.function
        def answer(s: object, question: str) -> None:
            s += sgl.user(question)  # type: ignore[operator]
            s += sgl.assistant(sgl.gen("answer", max_tokens=4, temperature=0))  # type: ignore[operator]

        state = answer.run(question="What is 1+1?", backend=backend)
        assert state.get_meta_info("answer")["completion_tokens"] <= 4
        # the log went to the buffer, and stats were fed
        assert any("Prefill batch" in line for line in server.logs(200))
        assert server.stats.points()
        # restart: a new process on the same URL, same key; the old tree is gone
        url, old_tree = server.url, _tree(server.pid)
        server.restart()
        assert server.url == url and server.pid not in old_tree and _gone(old_tree)
        assert server.generate("x", max_new_tokens=2).meta_info["completion_tokens"] <= 2
        tree, port = _tree(server.pid), server.port
    finally:
        server.stop()
    assert _gone(tree)
    assert port_is_free("127.0.0.1", port)


@pytest.mark.smollm
def test_eight_concurrent_cpu_engines_all_come_up() -> None:
    # SmolLM2's GGUF on llama.cpp: eight processes map one file and import no torch
    servers, failures = launch_concurrently(
        8, lambda i: sn.launch("smollm2", engine="cpu", name=f"eight-{i}", max_total_tokens=512)
    )
    try:
        assert not failures, failures
        assert len({s.port for s in servers}) == 8
        for server in servers:
            assert server.generate("hi", max_new_tokens=2).meta_info["completion_tokens"] <= 2
    finally:
        trees = [_tree(s.pid) for s in servers if s.is_alive()]
        for server in servers:
            server.stop()
    assert all(_gone(tree) for tree in trees)
