"""``%sgl launch --replicas N --router-policy P`` and ``%sgl router ...`` in a real shell, with
SGLang's real router over scripted stand-in workers; ``%%sgl`` cells go through the router."""

from __future__ import annotations

import httpx
import pytest

from sgl_notebook.magics import errors
from sgl_notebook.server.registry import find_record
from tests.fixtures.processes import session_processes
from tests.magics.conftest import run
from tests.server.conftest import fake_env, fake_python  # noqa: F401 -- fixtures


def _router_pids() -> list[int]:
    return [p.pid for p in session_processes("sglang_router.launch_router")]


def test_launch_replicas_then_cells_go_through_the_router(
    ipshell, magics, fake_python, capsys  # noqa: F811 -- the fixture imported above
):
    result = run(ipshell, f"%sgl launch org/ok --engine sglang --python {fake_python} "
                          "--replicas 2 --router-policy round_robin --name mg")
    assert result.error_in_exec is None, result.error_in_exec
    out = capsys.readouterr().out
    assert "mg-w1: ready" in out and "mg-w2: ready" in out and "router: ready" in out
    group = magics.book.get()
    try:
        assert group.name == "mg" and [w.name for w in group.workers] == ["mg-w1", "mg-w2"]
        for _ in range(2):
            answer = run(ipshell, "%%sgl --no-stream --max-tokens 3 -o short\nHi")
            assert answer.error_in_exec is None, answer.error_in_exec
        assert ipshell.user_ns["short"].text == "echo: Hi"  # the stand-in echoes
        assert group.split() == {"mg-w1": 1.0, "mg-w2": 1.0}
        # a worker is reachable by name (its log), and the router fronts named servers too
        logs = run(ipshell, "%sgl logs mg-w1 -n 5").result._repr_mimebundle_()["text/plain"]
        assert logs.strip()
        front = run(ipshell, "%sgl router mg-w1 mg-w2 --policy random --name mgfront")
        assert front.error_in_exec is None, front.error_in_exec
        fronting = magics.book.get()
        assert fronting.name == "mgfront" and fronting.policy == "random"
        assert httpx.post(fronting.url + "/generate", json={"text": "x"}, timeout=30).is_success
        run(ipshell, "%sgl stop mgfront")
        assert all(w.is_alive() for w in group.workers)  # it only fronted them
        assert find_record("mgfront") is None
    finally:
        run(ipshell, "%sgl stop mg")
    assert find_record("mg") is None and find_record("mg-w1") is None
    assert not _router_pids()


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("%sgl launch --replicas 0", "--replicas must be at least 1, got 0"),
        ("%sgl launch --replicas 2 --router-policy roundrobin",
         "is not one of cache_aware, round_robin, power_of_two, random"),
        ("%sgl launch --router-policy power_of_two", "power_of_two needs at least 2 workers"),
        ("%sgl router nobody --policy random", "No server named 'nobody'"),
        ("%sgl router http://127.0.0.1:9", "cannot reach"),
    ],
)
def test_group_mistakes_are_one_line_errors(ipshell, magics, line, needle):
    result = run(ipshell, line)
    assert isinstance(result.error_in_exec, errors.SglUsageError), result.error_in_exec
    assert needle in str(result.error_in_exec)
    assert not _router_pids()
