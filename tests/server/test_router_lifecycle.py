"""SGLang's real router in front of scripted stand-in workers: lifecycle, registry, CLI, bad input,
a dying worker and restart, API keys, and kernels that are killed, restarted or shut down.
(Behaviour with real CPU engines is in test_router_engines.py.)"""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
from jupyter_client.manager import KernelManager

import sgl_notebook as sn
from sgl_notebook.server import cli
from sgl_notebook.server.errors import EngineNotInstalledError, LaunchError
from sgl_notebook.server.ports import port_is_free
from sgl_notebook.server.registry import find_record, list_records
from sgl_notebook.server.router_group import MemberPhase, Router
from tests.fixtures.processes import session_processes
from tests.fixtures.waits import eventually, processes_gone

pytestmark = pytest.mark.usefixtures("no_leaks")


def router_processes() -> list[psutil.Process]:
    """Every router process this test session started (its registry, not another worker's)."""
    return list(session_processes("sglang_router.launch_router"))


def tree(pid: int) -> list[int]:
    return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]


@pytest.fixture
def group(fake_python: str) -> Iterator[Router]:
    phases: list[Any] = []
    routed = sn.launch("org/ok", engine="sglang", python=fake_python, replicas=2,
                       router_policy="round_robin", name="grp", on_phase=phases.append)
    routed.test_phases = phases  # type: ignore[attr-defined]
    try:
        yield routed
    finally:
        routed.stop()


def test_launch_serves_registers_and_stops_everything(group: Router) -> None:
    assert isinstance(group, Router) and group.policy == "round_robin"
    assert [w.name for w in group.workers] == ["grp-w1", "grp-w2"]
    # phases of every member, the router's last and ready only once all workers are
    members = {e.member for e in group.test_phases if isinstance(e, MemberPhase)}
    assert members == {"grp-w1", "grp-w2", "router"}
    router_events = [e for e in group.test_phases if e.member == "router"]
    assert router_events[-1].phase.value == "ready" and "2 workers" in router_events[-1].message
    assert group.readiness() == {"status": "ready", "healthy_workers": 2, "total_workers": 2}
    # requests go through the router to both workers (round robin)
    for _ in range(4):
        reply = httpx.post(group.url + "/generate", json={"text": "hi"}, timeout=30)
        assert reply.status_code == 200, reply.text
    split = group.split()
    assert set(split) == {"grp-w1", "grp-w2"} and all(n >= 1 for n in split.values())
    assert group.worker_health() == {"grp-w1": True, "grp-w2": True}
    # the registry links them, and `sgl-notebook ps` nests the workers under the router
    record = find_record("grp")
    assert record is not None and record.engine == "router" and record.metrics_port
    assert set(record.worker_ids) == {w.record.id for w in group.workers}
    assert all(find_record(w.name).router_id == record.id for w in group.workers)  # type: ignore[union-attr]
    out = io.StringIO()
    assert cli.main(["ps"], out=out, err=io.StringIO()) == 0
    lines = out.getvalue().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("grp "))
    assert lines[row + 1].startswith("└ grp-w") or lines[row + 1].startswith("├ grp-w")
    # logs are the router's own, without ANSI colours
    assert any("Router ready" in line for line in group.logs(500))
    assert not any("\x1b" in line for line in group.logs(500))
    kinds = [e.kind for e in group.events()]
    assert kinds.index("starting") < kinds.index("router_ready") < kinds.index("worker_registered")
    # stop: the router and every worker it launched, their ports and records
    pids = tree(group.pid) + [p for w in group.workers for p in tree(w.pid)]
    ports = [group.port] + [w.port for w in group.workers]
    group.stop()
    assert processes_gone(pids)
    assert all(port_is_free("127.0.0.1", p) for p in ports)
    assert find_record("grp") is None and find_record("grp-w1") is None


def test_cli_stop_of_the_router_stops_its_workers(group: Router) -> None:
    pids = [group.pid] + [w.pid for w in group.workers]
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["stop", "grp"], out=out, err=err) == 0, err.getvalue()
    assert processes_gone(pids)
    assert [r for r in list_records() if r.name.startswith("grp")] == []


def test_router_fronts_running_servers_and_never_stops_them(fake_python: str) -> None:
    a = sn.launch("org/ok", engine="sglang", python=fake_python, name="front-a")
    b = sn.launch("org/ok", engine="sglang", python=fake_python, name="front-b")
    try:
        routed = sn.router([a, b.url], policy="random", name="front")
        try:
            assert routed.workers[0] is a and routed.workers[1].url == b.url
            assert not routed.workers[1].managed  # the URL was connected, not launched
            reply = httpx.post(routed.url + "/generate", json={"text": "hi"}, timeout=30)
            assert reply.status_code == 200
        finally:
            routed.stop()
        assert a.is_alive() and b.is_alive()
        assert httpx.get(a.url + "/health", timeout=5).status_code == 200
        assert find_record("front-a") is not None and find_record("front-b") is not None
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"replicas": 0}, "at least 1; got 0"),
        ({"replicas": -2}, "at least 1; got -2"),
        ({"replicas": 1.5}, "whole number"),
        ({"replicas": 2, "router_policy": "fastest"},
         "choose one of cache_aware, round_robin, power_of_two, random"),
        ({"replicas": 1, "router_policy": "power_of_two"}, "at least 2 workers"),
        ({"replicas": 2, "idle_timeout": 60}, "idle_timeout does not apply to replicas"),
    ],
)
def test_bad_group_arguments_start_nothing(fake_python: str, kwargs: dict[str, Any],
                                           needle: str) -> None:
    before = len(list_records())
    with pytest.raises(ValueError, match=needle):
        sn.launch("org/ok", engine="sglang", python=fake_python, **kwargs)
    assert len(list_records()) == before


def test_router_not_installed_names_the_pip_line(fake_python: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from sgl_notebook.server import router_process

    spec = router_process.ROUTER_SPEC
    missing = type(spec)(spec.name, spec.dialect, spec.health_path, spec.port_range,
                         ("sglang_router_not_here",), spec.package_hint)
    monkeypatch.setattr(router_process, "ROUTER_SPEC", missing)
    with pytest.raises(EngineNotInstalledError) as info:
        sn.launch("org/ok", engine="sglang", python=fake_python, replicas=2)
    assert "pip install 'sglang-router==0.3.2'" in str(info.value)


def test_a_worker_that_fails_stops_the_rest_and_names_itself(fake_python: str) -> None:
    with pytest.raises(LaunchError) as info:
        sn.launch("org/oom", engine="sglang", python=fake_python, replicas=2, name="bad")
    message = str(info.value)
    assert "worker bad-w1 failed" in message
    assert "every worker started so far was stopped" in message
    assert info.value.log_tail  # the failing worker's own log lines
    assert not router_processes()


def test_router_arguments_are_checked(fake_python: str) -> None:
    with pytest.raises(ValueError, match="list of servers"):
        sn.router("http://127.0.0.1:1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="list of servers"):
        sn.router([])
    with pytest.raises(Exception, match="cannot reach"):
        sn.router(["http://127.0.0.1:9"])  # nothing listens there: a clear error, no router
    assert not router_processes()


# ------------------------------------------- a kernel that is killed, restarted or shut down


@pytest.mark.parametrize("how", ["sigkill", "restart", "shutdown"])
def test_a_kernel_that_goes_leaves_no_router_and_no_worker(
    kernel: tuple[KernelManager, Any], fake_python: str, how: str
) -> None:
    manager, client = kernel
    code = (
        "import sgl_notebook as sn\n"
        f"r = sn.launch('org/ok', engine='sglang', python={fake_python!r}, replicas=2, "
        "name='killed')\n"
        "print(r.pid, *[w.pid for w in r.workers])\n"
    )
    out: list[str] = []
    reply = client.execute_interactive(
        code, timeout=180,
        output_hook=lambda m: out.append(m["content"].get("text", "")) if m["msg_type"] == "stream"
        else None,
    )
    assert reply["content"]["status"] == "ok", out
    pids = [int(x) for x in "".join(out).split()]
    assert len(pids) == 3 and all(psutil.pid_exists(p) for p in pids)
    everything = [p for pid in pids for p in tree(pid)]
    if how == "sigkill":
        os.kill(manager.provisioner.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
    elif how == "restart":
        manager.restart_kernel(now=True)
    else:
        manager.shutdown_kernel(now=False)
    assert processes_gone(everything, 20.0), [psutil.Process(p).cmdline() for p in everything
                                                if psutil.pid_exists(p)]
    assert eventually(lambda: find_record("killed") is None)
    assert find_record("killed") is None and find_record("killed-w1") is None


def test_an_api_key_guards_the_router_as_it_guards_a_server(fake_python: str) -> None:
    routed = sn.launch("org/ok", engine="sglang", python=fake_python, replicas=2,
                       api_key="auto", name="keyed")
    try:
        assert all(w.api_key == routed.api_key for w in routed.workers)
        bare = httpx.post(routed.url + "/generate", json={"text": "hi"}, timeout=30)
        assert bare.status_code == 401
        assert routed.generate("hi").text == " Paris"  # the Router sends its key
        assert routed.chat("hi").text == "echo: hi"
        fronting = sn.router(routed.workers, policy="random", name="keyed-front")
        try:  # the workers' shared key is the fronting router's too
            assert fronting.api_key == routed.api_key
            assert fronting.worker_health() == {w.name: True for w in routed.workers}
            assert fronting.generate("hi").text == " Paris"
        finally:
            fronting.stop()
    finally:
        routed.stop()


def test_a_dead_worker_is_taken_out_and_restart_brings_it_back(group: Router) -> None:
    dead, other = group.workers
    os.killpg(dead.record.pgid, signal.SIGKILL)
    assert eventually(lambda: group.removed == [dead.name]), group.removed
    assert group.readiness() == {"status": "ready", "healthy_workers": 1, "total_workers": 1}
    assert group.worker_health() == {dead.name: False, other.name: True}
    for _ in range(3):  # the other worker serves everything
        assert httpx.post(group.url + "/generate", json={"text": "x"}, timeout=30).is_success
    old_router = group.pid
    group.restart()
    assert dead.is_alive() and group.pid != old_router and not psutil.pid_exists(old_router)
    assert group.removed == []
    assert group.readiness() == {"status": "ready", "healthy_workers": 2, "total_workers": 2}
    record = find_record("grp")
    assert record is not None and set(record.worker_ids) == {dead.record.id, other.record.id}
