"""%sgl launch / list / use / logs / info / flush / stop with the real launcher and CPU engine
(tiny model), in a real InteractiveShell; a failed launch shows its log tail and leaves nothing."""

from __future__ import annotations

import psutil
import pytest

from sgl_notebook.magics import errors
from tests.magics.conftest import run


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_launch_use_list_logs_info_flush_stop(ipshell, magics, tiny_model_dir, tmp_path, capsys):
    before = _children()
    result = run(ipshell, f"%sgl launch {tiny_model_dir} --engine cpu --name magic-tiny")
    assert result.error_in_exec is None, result.error_in_exec
    out = capsys.readouterr().out
    assert "launching" in out and "ready" in out  # phases printed where widgets cannot render
    assert "name: magic-tiny" in out and "engine: cpu" in out
    server = magics.book.get()
    assert server.name == "magic-tiny" and server.is_alive()

    table = run(ipshell, "%sgl list").result._repr_mimebundle_()
    assert "* magic-tiny" in table["text/plain"] and "running" in table["text/plain"]
    assert "<table" in table["text/html"]

    logs = run(ipshell, "%sgl logs -n 5").result._repr_mimebundle_()["text/plain"].splitlines()
    assert 0 < len(logs) <= 5

    info = run(ipshell, "%sgl info").result._repr_mimebundle_()["text/plain"]
    assert f"model_path: {tiny_model_dir}" in info

    run(ipshell, "%sgl flush")
    assert "magic-tiny:" in capsys.readouterr().out

    answer = run(ipshell, "%%sgl --max-tokens 3 -o short\nHi")
    assert answer.error_in_exec is None
    assert ipshell.user_ns["short"].usage["completion_tokens"] == 3

    # the frontend language now points at this server too
    pytest.importorskip("sglang")
    from sglang.global_config import global_config

    assert global_config.default_backend.base_url == server.url

    # a log copy to a folder that does not exist: a usage error before anything stops
    bad = run(ipshell, f"%sgl stop --save-log {tmp_path / 'nope' / 'tiny.log'}")
    assert isinstance(bad.error_in_exec, errors.SglUsageError)
    assert "that folder does not exist" in str(bad.error_in_exec)
    assert server.is_alive() and magics.book.get() is server

    saved = tmp_path / "tiny.log"
    run(ipshell, f"%sgl stop --save-log {saved}")
    out = capsys.readouterr().out
    assert "stopped: magic-tiny" in out and f"log saved to {saved}" in out
    assert not server.is_alive()
    from sgl_notebook.stats import from_log

    kinds = {point.kind for point in from_log(saved).points()}
    assert "prefill" in kinds, kinds  # the %%sgl answer's prefill, read back from the copy
    assert _children() - before == set()  # nothing left running
    result = run(ipshell, "%%sgl\nHi")
    assert isinstance(result.error_in_exec, errors.NoServerError)


def test_failed_launch_shows_the_reason_and_leaves_nothing(ipshell, magics, tmp_path, capsys):
    before = _children()
    result = run(ipshell, f"%sgl launch {tmp_path / 'no-such-model'} --engine cpu --name broken")
    assert isinstance(result.error_in_exec, errors.LaunchFailedError)
    message = str(result.error_in_exec)
    assert "did not start" in message
    assert _children() - before == set()
    assert run(ipshell, "1 + 1").result == 2
