"""The server extension's REST API, against real processes registered in a real registry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from tornado.httpclient import HTTPClientError

from sgl_notebook.server.registry import ServerRecord, list_records, write_record
from tests.lab.conftest import FAKE_API_KEY, FakeServer


async def get_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("sgl-notebook", "api", *parts, **kwargs)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error_of(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("sgl-notebook", "api", *parts, **kwargs)
    response = caught.value.response
    assert response is not None
    return caught.value.code, json.loads(response.body)


async def test_list_is_empty_without_servers(jp_fetch: Any) -> None:
    reply = await get_json(jp_fetch, "servers")
    assert reply["servers"] == []


async def test_list_shows_a_running_server_without_its_api_key(
    jp_fetch: Any, fake_server: FakeServer
) -> None:
    response = await jp_fetch("sgl-notebook", "api", "servers")
    assert FAKE_API_KEY not in response.body.decode()
    (info,) = json.loads(response.body)["servers"]
    assert info["id"] == fake_server.record.id
    assert info["name"] == "fake"
    assert info["engine"] == "sglang"
    assert info["model"] == "fake-org/Fake-Model-0.5B-Instruct"
    assert info["url"] == "http://127.0.0.1:39999"
    assert info["status"] == "running" and info["alive"] is True
    assert info["uptime_s"] >= 0
    assert info["orphaned"] is False  # its owner is this test process
    assert "api_key" not in info
    assert info["stats"]["gen_throughput"] > 0


async def test_server_whose_kernel_is_gone_is_orphaned(
    jp_fetch: Any, fake_server_factory: Callable[..., FakeServer], dead_pid: int
) -> None:
    server = fake_server_factory(name="left-behind", owner_pid=dead_pid, owner_kernel_id="k-gone")
    (info,) = (await get_json(jp_fetch, "servers"))["servers"]
    assert info["id"] == server.record.id
    assert info["orphaned"] is True
    assert info["owner_kernel_id"] == "k-gone"


async def test_stats_follow_the_log_as_it_grows(jp_fetch: Any, fake_server: FakeServer) -> None:
    first = await get_json(jp_fetch, "servers", fake_server.record.id, "stats")
    assert first["id"] == fake_server.record.id
    # the values of the newest decode line in the log: 10 + step % 7 tok/s, queue step % 3
    assert 10.0 <= first["gen_throughput"] <= 16.0
    assert first["running_req"] == 1
    assert first["queue_req"] in (0, 1, 2)
    assert first["cache_hit_rate"] == pytest.approx(0.25)  # 10 cached of 40 prefill tokens
    assert first["history"], "the sparkline needs a history"
    n_before = len(fake_server.log_path.read_text().splitlines())
    # readiness check, not a sleep: wait until the process appended lines
    while len(fake_server.log_path.read_text().splitlines()) < n_before + 6:
        await _tick()
    second = await get_json(jp_fetch, "servers", fake_server.record.id, "stats")
    assert len(second["history"]) > len(first["history"]) or len(second["history"]) == 60
    assert second["updated_at"] >= first["updated_at"]


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_logs_return_the_last_lines_with_the_key_redacted(
    jp_fetch: Any, fake_server: FakeServer
) -> None:
    reply = await get_json(jp_fetch, "servers", fake_server.record.id, "logs", params={"n": 5})
    assert reply["id"] == fake_server.record.id
    assert len(reply["lines"]) == 5
    assert any("Decode batch." in line for line in reply["lines"])
    everything = await get_json(
        jp_fetch, "servers", fake_server.record.id, "logs", params={"n": 5000}
    )
    assert everything["lines"][0].endswith(
        "server_args=ServerArgs(model_path='fake', api_key='***', port=0)"
    )
    assert FAKE_API_KEY not in json.dumps(everything)


@pytest.mark.parametrize("bad_n", ["abc", "0", "-3", "5001", "1.5"])
async def test_logs_refuse_a_bad_line_count(
    jp_fetch: Any, fake_server: FakeServer, bad_n: str
) -> None:
    code, error = await error_of(
        jp_fetch, "servers", fake_server.record.id, "logs", params={"n": bad_n}
    )
    assert code == 400
    assert "n must be" in error["message"]
    assert fake_server.process.poll() is None


async def test_stop_ends_the_whole_process_tree(jp_fetch: Any, fake_server: FakeServer) -> None:
    pids = fake_server.tree_pids()
    assert len(pids) == 2  # the server and its child
    reply = await get_json(
        jp_fetch, "servers", fake_server.record.id, "stop", method="POST", body=b""
    )
    assert reply == {"id": fake_server.record.id, "stopped": True}
    fake_server.process.wait(timeout=10)
    assert not any(psutil.pid_exists(pid) and _not_zombie(pid) for pid in pids)
    assert (await get_json(jp_fetch, "servers"))["servers"] == []
    assert list_records() == []


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_stop_of_an_unknown_server_is_refused(jp_fetch: Any, fake_server: FakeServer) -> None:
    code, error = await error_of(
        jp_fetch, "servers", "no-such-server", "stop", method="POST", body=b""
    )
    assert code == 404
    assert "no-such-server" in error["message"]
    assert fake_server.process.poll() is None


async def test_stop_of_a_record_pointing_at_a_foreign_process_is_refused(
    jp_fetch: Any, fake_server: FakeServer
) -> None:
    # a live process that is not the recorded one: same pid number, wrong create time
    bystander = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    try:
        forged = ServerRecord(
            **{
                **fake_server.record.to_json(),
                "id": "forged0001",
                "name": "forged",
                "pid": bystander.pid,
                "pgid": None,
                "create_time": psutil.Process(bystander.pid).create_time() - 1000.0,
            }
        )
        write_record(forged)
        code, error = await error_of(
            jp_fetch, "servers", "forged0001", "stop", method="POST", body=b""
        )
        assert code in (404, 409)
        assert error["message"]
        assert bystander.poll() is None, "a process not in the registry must never be signalled"
        assert fake_server.process.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


async def test_unknown_endpoints_are_json_404s(jp_fetch: Any) -> None:
    code, error = await error_of(jp_fetch, "nothing-here")
    assert code == 404
    assert "nothing-here" in error["message"]
    code, _ = await error_of(jp_fetch, "servers", "x", "stats")
    assert code == 404


async def test_unauthenticated_requests_are_refused(jp_fetch: Any, fake_server: FakeServer) -> None:
    for parts, method in [
        (("servers",), "GET"),
        (("servers", fake_server.record.id, "logs"), "GET"),
        (("servers", fake_server.record.id, "stop"), "POST"),
    ]:
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch(
                "sgl-notebook",
                "api",
                *parts,
                method=method,
                body=b"" if method == "POST" else None,
                headers={"Authorization": ""},
            )
        assert caught.value.code == 403
    assert fake_server.process.poll() is None
