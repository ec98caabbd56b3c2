"""No server outlives its kernel: shutdown, restart and SIGKILL of real kernels (jupyter_client)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from sgl_notebook.server.registry import find_record

pytestmark = pytest.mark.usefixtures("no_leaks")

GONE_WITHIN_S = 10.0


def run(client: Any, code: str) -> str:
    """Execute ``code`` in the kernel; returns its stdout (fails on an error)."""
    out: list[str] = []
    errors: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            errors.append("\n".join(msg["content"]["traceback"]))

    reply = client.execute_interactive(code, output_hook=hook, timeout=120)
    assert reply["content"]["status"] == "ok", errors
    return "".join(out)


def launch_in_kernel(
    client: Any, name: str, fake_python: str | None = None, model: str = "org/ok"
) -> list[int]:
    """Start a server (the stand-in, or the CPU engine when ``fake_python`` is None) from the
    kernel; returns the pids of its process tree."""
    how = f"engine='sglang', python={fake_python!r}" if fake_python else "engine='cpu'"
    text = run(client, (
        "import sgl_notebook as sn\n"
        f"server = sn.launch({model!r}, {how}, name={name!r})\n"
        "print(server.pid, server.record.owner_pid)\n"
    ))
    pid, owner = (int(x) for x in text.split())
    record = find_record(name)
    assert record is not None and record.owner_pid == owner
    # `sgl-notebook ps` shows the owning kernel
    assert record.owner_kernel_id and record.owner_kernel_id in str(client.connection_file)
    tree = [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
    if fake_python:
        assert len(tree) >= 2  # the stand-in's "scheduler" child
    return tree


def wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GONE_WITHIN_S
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if _alive(p)]
        if not alive:
            break
        time.sleep(0.1)
    return alive


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kernel_shutdown_ends_the_server(kernel: Any, fake_python: str) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, "k-shutdown", fake_python)
    manager.interrupt_kernel()  # an interrupt reaches the kernel, not the server
    time.sleep(0.5)
    assert all(_alive(p) for p in tree)
    manager.shutdown_kernel(now=False)
    assert wait_gone(tree) == []
    assert find_record("k-shutdown") is None


def test_kernel_restart_ends_the_server(kernel: Any, fake_python: str) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, "k-restart", fake_python)
    manager.restart_kernel(now=False)
    assert wait_gone(tree) == []
    client.wait_for_ready(timeout=60)
    assert run(client, "print(1 + 1)").strip() == "2"  # the new kernel works


def test_kernel_sigkill_ends_the_server(kernel: Any, fake_python: str) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, "k-sigkill", fake_python)
    kernel_pid = manager.provisioner.process.pid  # type: ignore[union-attr]
    os.kill(kernel_pid, signal.SIGKILL)
    assert wait_gone(tree) == []
    deadline = time.monotonic() + GONE_WITHIN_S
    while find_record("k-sigkill") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert find_record("k-sigkill") is None


def test_kernel_sigkill_ends_a_real_cpu_engine(kernel: Any, tiny_model_dir: Path) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, "k-sigkill-cpu", model=str(tiny_model_dir))
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
    assert wait_gone(tree) == []
