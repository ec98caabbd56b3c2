"""No server outlives its kernel: shutdown, restart and SIGKILL of real kernels (jupyter_client)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest

from sgl_notebook.server.registry import find_record
from tests.fixtures.waits import eventually, processes_gone

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
    """The pids still running after waiting up to GONE_WITHIN_S for all of them to end."""
    processes_gone(pids, GONE_WITHIN_S)
    return [p for p in pids if _alive(p)]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kernel_shutdown_ends_the_server(kernel: Any, fake_python: str) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, "k-shutdown", fake_python)
    # An interrupt goes to the kernel's process group; the server has its own, so it gets none.
    kernel_group = os.getpgid(manager.provisioner.process.pid)  # type: ignore[union-attr]
    assert all(os.getpgid(p) != kernel_group for p in tree)
    manager.interrupt_kernel()
    # once the kernel answers again it has handled the interrupt; the server still serves
    assert run(client, "print(server.generate('x').text)").strip() == "Paris"
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
    assert eventually(lambda: find_record("k-sigkill") is None, GONE_WITHIN_S)


def test_kernel_sigkill_ends_a_real_cpu_engine(kernel: Any, tiny_model_dir: Path) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, "k-sigkill-cpu", model=str(tiny_model_dir))
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
    assert wait_gone(tree) == []
