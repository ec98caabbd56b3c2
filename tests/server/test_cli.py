"""The ``sgl-notebook`` console script: ps, stop NAME, stop --all, logs; unknown names exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sgl_notebook as sn
from sgl_notebook.server.cli import format_table
from sgl_notebook.server.registry import find_record

pytestmark = pytest.mark.usefixtures("no_leaks")

CLI = Path(sys.executable).with_name("sgl-notebook")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))


def test_ps_logs_stop(fake_python: str) -> None:
    server = sn.launch("org/ok", engine="sglang", python=fake_python, name="cli-one")
    other = sn.launch("org/ok", engine="vllm", python=fake_python, name="cli-two")
    try:
        ps = cli("ps")
        assert ps.returncode == 0
        header, *rows = ps.stdout.splitlines()
        assert header.split() == ["NAME", "ENGINE", "MODEL", "URL", "PID", "UPTIME", "OWNER",
                                  "ALIVE"]
        row = next(r for r in rows if r.startswith("cli-one "))
        assert server.url in row and str(server.pid) in row and row.endswith("yes")
        assert f"pid {os.getpid()}" in row

        logs = cli("logs", "cli-one", "-n", "3")
        assert logs.returncode == 0
        assert "The server is fired up and ready to roll!" in logs.stdout
        assert len(logs.stdout.splitlines()) == 3

        stop = cli("stop", "cli-one")
        assert stop.returncode == 0 and "stopped cli-one" in stop.stdout
        assert not server.is_alive()
        assert find_record("cli-one") is None

        stop_all = cli("stop", "--all")
        assert stop_all.returncode == 0 and "stopped cli-two" in stop_all.stdout
        assert not other.is_alive()
        assert cli("ps").stdout.strip() == "no servers running"
    finally:
        server.stop()
        other.stop()


def test_unknown_names_and_usage_errors() -> None:
    for args in (("stop", "nope"), ("logs", "nope")):
        result = cli(*args)
        assert result.returncode == 2
        assert "no server named 'nope'" in result.stderr and "sgl-notebook ps" in result.stderr
        assert "Traceback" not in result.stderr
    both = cli("stop")
    assert both.returncode == 2 and "give a NAME or --all" in both.stderr
    assert cli("frobnicate").returncode == 2


def test_format_table_without_records() -> None:
    assert format_table([]).split() == ["NAME", "ENGINE", "MODEL", "URL", "PID", "UPTIME",
                                        "OWNER", "ALIVE"]
