"""launch() against the scripted SGLang / vLLM stand-in: phases, clients, failures, no leftovers."""

from __future__ import annotations

import socket
import threading

import psutil
import pytest

import sgl_notebook as sn
from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.server import errors
from sgl_notebook.server.ports import port_is_free
from sgl_notebook.server.registry import find_record
from tests.server.conftest import launch_concurrently

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_sglang_standin_comes_up_with_phases_and_stops_cleanly(fake_python: str) -> None:
    seen: list[PhaseEvent] = []
    server = sn.launch("org/ok", engine="sglang", python=fake_python, on_phase=seen.append)
    try:
        phases = [e.phase for e in seen]
        for phase in (LaunchPhase.STARTING, LaunchPhase.LOADING_WEIGHTS, LaunchPhase.KV_CACHE,
                      LaunchPhase.GRAPH_CAPTURE, LaunchPhase.WARMUP):
            assert phase in phases
        assert phases[-1] is LaunchPhase.READY
        shards = [e.progress for e in seen if e.message.startswith("Loading weights: shard")]
        assert shards == [0.25, 0.5, 0.75, 1.0]
        assert server.generate("The capital of France is").text == " Paris"
        assert server.chat("hello").text == "echo: hello"
        assert any("fired up and ready to roll" in line for line in server.logs(20))
        assert find_record(server.name) is not None
        assert server in sn.servers()
        tree = [server.pid] + [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
        assert len(tree) >= 2  # the stand-in's "scheduler" child
        port = server.port
    finally:
        server.stop()
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
                   for pid in tree)
    assert port_is_free("127.0.0.1", port)
    assert find_record(server.name) is None
    assert server not in sn.servers()
    with pytest.raises(errors.ServerStoppedError, match="not running"):
        server.generate("again")


def test_vllm_standin_with_auto_api_key(fake_python: str) -> None:
    import openai

    with sn.launch("org/ok", engine="vllm", python=fake_python, api_key="auto") as server:
        assert server.api_key and len(server.api_key) > 20
        assert server.engine == "vllm"
        answer = server.client().chat.completions.create(
            model=server.model, messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "echo: hi"
        keyless = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            keyless.models.list()


@pytest.mark.parametrize(
    ("scenario", "error", "words"),
    [
        ("oom", errors.OutOfMemoryError, "out of memory"),
        ("missing-model", errors.ModelNotFoundError, "model was not found"),
        ("scheduler-died", errors.SchedulerDiedError, "scheduler died"),
        ("missing-package", errors.EngineNotInstalledError, "sgl_kernel"),
    ],
)
def test_failed_start_names_the_cause_with_log_tail(
    fake_python: str, scenario: str, error: type[Exception], words: str
) -> None:
    seen: list[PhaseEvent] = []
    with pytest.raises(error) as caught:
        sn.launch(f"org/{scenario}", engine="sglang", python=fake_python, on_phase=seen.append)
    message = str(caught.value)
    assert words in message
    assert "--- last log lines ---" in message and "What to do:" in message
    assert caught.value.log_tail  # type: ignore[attr-defined]
    assert seen[-1].phase is LaunchPhase.FAILED


def test_vllm_engine_core_failure(fake_python: str) -> None:
    with pytest.raises(errors.OutOfMemoryError, match="out of memory"):
        sn.launch("org/oom", engine="vllm", python=fake_python)


def test_deadline_raises_timeout_and_kills_the_tree(fake_python: str) -> None:
    with pytest.raises(errors.LaunchTimeoutError, match="within 2 s.*Loading weights"):
        sn.launch("org/hang", engine="sglang", python=fake_python, timeout=2)


def test_port_clash_on_an_automatic_port_is_retried(
    fake_python: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sgl_notebook.server.launcher as launcher

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    real = launcher.find_free_port
    calls: list[int] = []

    def racy(host: str, port_range: tuple[int, int], exclude: set[int]) -> int:
        # the first pick is grabbed by someone else before the server binds it
        port = taken if not calls else real(host, port_range, exclude)
        calls.append(port)
        return port

    monkeypatch.setattr(launcher, "find_free_port", racy)
    try:
        with sn.launch("org/ok", engine="sglang", python=fake_python) as server:
            assert calls[0] == taken and server.port == calls[1] != taken
            assert server.generate("x").text == " Paris"
    finally:
        holder.close()


def test_explicit_port_already_taken_is_a_clear_error(fake_python: str) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        with pytest.raises(errors.PortInUseError, match=f"port {port} .* already in use"):
            sn.launch("org/ok", engine="sglang", python=fake_python, port=port)
    finally:
        holder.close()


def test_eight_concurrent_launches_get_eight_ports(fake_python: str) -> None:
    results, failures = launch_concurrently(
        8, lambda i: sn.launch("org/ok", engine="sglang", python=fake_python, name=f"c{i}")
    )
    try:
        assert not failures
        assert len({s.port for s in results}) == 8
        assert all(s.generate("x").text == " Paris" for s in results)
    finally:
        for server in results:
            server.stop()


def test_bad_inputs_are_clear_errors(fake_python: str, tmp_path: object) -> None:
    with pytest.raises(errors.UnknownEngineError, match="choose one of sglang, vllm, cpu, auto"):
        sn.launch("org/ok", engine="tensorrt")
    with pytest.raises(errors.EngineNotInstalledError, match="does not exist"):
        sn.launch("org/ok", engine="sglang", python="/no/such/python")
    with pytest.raises(errors.EngineNotInstalledError, match="vllm is not installed"):
        sn.launch("org/ok", engine="vllm", python="/usr/bin/python3")
    with pytest.raises(errors.ModelNotFoundError, match="does not exist"):
        sn.launch("/no/such/model/folder", engine="sglang", python=fake_python)
    with pytest.raises(ValueError, match="timeout must be positive"):
        sn.launch("org/ok", engine="sglang", python=fake_python, timeout=0)


def test_python_without_the_engine(tmp_path: object) -> None:
    import shutil

    system_python = shutil.which("python3")
    assert system_python
    with pytest.raises(errors.EngineNotInstalledError, match="cannot import .*sglang"):
        sn.launch("org/ok", engine="sglang", python="/usr/bin/python3")


def test_server_args_reach_the_command_line(fake_python: str) -> None:
    with sn.launch("org/ok", engine="sglang", python=fake_python, mem_fraction_static=0.8,
                   enable_metrics=True, extra_args=["--log-level", "info"]) as server:
        cmdline = psutil.Process(server.pid).cmdline()
        assert cmdline[cmdline.index("--mem-fraction-static") + 1] == "0.8"
        assert "--enable-metrics" in cmdline
        assert cmdline[-2:] == ["--log-level", "info"]
        assert cmdline[cmdline.index("--host") + 1] == "127.0.0.1"


def test_interrupt_while_waiting_leaves_nothing(fake_python: str) -> None:
    import _thread

    def interrupt_once_started(event: PhaseEvent) -> None:
        if event.phase is LaunchPhase.LOADING_WEIGHTS:
            threading.Timer(0.2, _thread.interrupt_main).start()

    with pytest.raises(KeyboardInterrupt):
        sn.launch("org/hang", engine="sglang", python=fake_python, timeout=60,
                  on_phase=interrupt_once_started)
