"""The Server object beyond launch: stats fed from the log, listeners, phases, connect()."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import sgl_notebook as sn
from sgl_notebook.protocol.phases import LaunchPhase
from sgl_notebook.server.errors import SglNotebookError
from sgl_notebook.server.registry import find_record

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_stats_listeners_and_phases(fake_python: str) -> None:
    with sn.launch("org/ok", engine="sglang", python=fake_python) as server:
        # the warm-up Prefill batch line reached the stats series through the pump
        assert server.stats.points(), "no stats point from the warm-up prefill line"
        phases = [event.phase for event in server.phases()]
        assert phases[0] is LaunchPhase.STARTING and phases[-1] is LaunchPhase.READY
        replayed: list[LaunchPhase] = []
        server.on_phase(lambda event: replayed.append(event.phase))
        assert replayed == phases
        lines: list[str] = []
        got_one = threading.Event()
        remove = server.add_line_listener(lambda line: (lines.append(line), got_one.set()))
        assert server.generate("x").text == " Paris"
        assert got_one.wait(10) and any('"POST /generate HTTP/1.1"' in line for line in lines)
        remove()


def test_async_client(fake_python: str) -> None:
    with sn.launch("org/ok", engine="sglang", python=fake_python) as server:
        async def ask() -> str:
            answer = await server.async_client().chat.completions.create(
                model=server.model, messages=[{"role": "user", "content": "yo"}]
            )
            return str(answer.choices[0].message.content)

        assert asyncio.run(ask()) == "echo: yo"


def test_connect_to_a_running_server(fake_python: str) -> None:
    with sn.launch("org/ok", engine="sglang", python=fake_python, api_key="auto") as owned:
        with pytest.raises(SglNotebookError, match="rejected the API key"):
            sn.connect(owned.url, api_key="wrong")
        remote = sn.connect(owned.url, api_key=owned.api_key, name="remote-one")
        try:
            assert not remote.managed and remote.model == "org/ok"
            assert remote.is_alive()
            assert remote.generate("x").text == " Paris"
            record = find_record("remote-one")
            assert record is not None and record.managed is False and record.owner_pid is None
            assert remote in sn.servers()
        finally:
            remote.stop()  # forgets it; the server itself keeps running
        assert find_record("remote-one") is None
        assert owned.is_alive()


def test_connect_bad_inputs() -> None:
    with pytest.raises(ValueError, match="needs an http"):
        sn.connect("localhost:1234")
    with pytest.raises(SglNotebookError, match="cannot reach"):
        sn.connect("http://127.0.0.1:9")  # discard port: nothing listens


def test_a_server_that_died_says_so_and_can_restart(fake_python: str, tmp_path) -> None:
    import psutil

    from sgl_notebook.server.errors import ServerStoppedError

    with sn.launch("org/ok", engine="sglang", python=fake_python) as server:
        psutil.Process(server.pid).kill()
        psutil.Process(server.pid).wait(5)
        with pytest.raises(ServerStoppedError, match="exited on its own .*Last log lines"):
            server.generate("x")
        assert server.status == "exited"
        # its log outlives the crash, for a post-mortem
        assert "fired up and ready" in server.save_log(tmp_path / "crash.log").read_text()
        server.restart()
        assert server.generate("x").text == " Paris"


def test_save_log_while_running_and_on_stop(fake_python: str, tmp_path) -> None:
    from sgl_notebook.server.errors import ServerStoppedError
    from sgl_notebook.stats import from_log

    server = sn.launch("org/ok", engine="sglang", python=fake_python, name="logged")
    try:
        assert server.generate("x").text == " Paris"
        live = server.save_log(tmp_path / "live.log")
        text = live.read_text()
        assert "The server is fired up and ready to roll!" in text
        assert "Prefill batch" in text
        assert "prefill" in {point.kind for point in from_log(live).points()}
        # bad targets: clear errors, and the server untouched
        with pytest.raises(SglNotebookError, match="is a folder"):
            server.save_log(tmp_path)
        with pytest.raises(SglNotebookError, match="that folder does not exist"):
            server.stop(save_log=tmp_path / "missing" / "x.log")
        assert server.is_alive()
        log_file = server.log_path
        kept = server.stop(save_log=tmp_path / "final.log")
    finally:
        server.stop()
    assert kept == tmp_path / "final.log"
    final = kept.read_text()
    assert final.startswith(text) and len(final) >= len(text)
    assert log_file is not None and not Path(log_file).exists()  # the server's own log went
    with pytest.raises(ServerStoppedError, match=r"stop\(save_log=path\)"):
        server.save_log(tmp_path / "late.log")
    assert not (tmp_path / "late.log").exists()


def test_save_log_of_a_connected_server_says_where_the_log_is(fake_python: str, tmp_path) -> None:
    with sn.launch("org/ok", engine="sglang", python=fake_python) as owned:
        remote = sn.connect(owned.url, name="remote-log")
        try:
            with pytest.raises(SglNotebookError, match="started elsewhere"):
                remote.save_log(tmp_path / "remote.log")
        finally:
            remote.stop()


def test_a_log_copy_that_cannot_be_written_still_stops_cleanly(fake_python: str, tmp_path) -> None:
    from sgl_notebook.server.errors import ServerStoppedError

    dangling = tmp_path / "dangling.log"
    dangling.symlink_to(tmp_path / "no-such-folder" / "x.log")  # opening it for writing fails
    server = sn.launch("org/ok", engine="sglang", python=fake_python, name="unsaved")
    try:
        with pytest.raises(SglNotebookError, match="cannot save the log"):
            server.save_log(dangling)
        with pytest.raises(SglNotebookError, match="File name too long"):
            server.save_log(tmp_path / ("x" * 300))
        assert server.is_alive()
        log_file = server.log_path
        with pytest.raises(ServerStoppedError, match="is stopped, but its log could not be copied"):
            server.stop(save_log=dangling)
    finally:
        server.stop()
    assert server.status == "stopped" and not server.is_alive()
    assert find_record("unsaved") is None
    assert log_file is not None and not Path(log_file).exists()
