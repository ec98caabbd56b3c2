"""No server outlives its kernel: shutdown, restart and SIGKILL of real kernels (jupyter_client)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from jupyter_client.manager import KernelManager

from sgl_notebook.server.registry import find_record

pytestmark = pytest.mark.usefixtures("no_leaks")

GONE_WITHIN_S = 10.0


@pytest.fixture
def kernel() -> Iterator[tuple[KernelManager, Any]]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=dict(os.environ))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        yield manager, client
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


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


def launch_in_kernel(client: Any, fake_python: str, name: str) -> list[int]:
    """Start a stand-in server from the kernel; returns the pids of its process tree."""
    text = run(client, (
        "import sgl_notebook as sn\n"
        f"server = sn.launch('org/ok', engine='sglang', python={fake_python!r}, name={name!r})\n"
        "print(server.pid, server.record.owner_pid)\n"
    ))
    pid, owner = (int(x) for x in text.split())
    record = find_record(name)
    assert record is not None and record.owner_pid == owner
    tree = [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
    assert len(tree) >= 2
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
    tree = launch_in_kernel(client, fake_python, "k-shutdown")
    manager.interrupt_kernel()  # an interrupt reaches the kernel, not the server
    time.sleep(0.5)
    assert all(_alive(p) for p in tree)
    manager.shutdown_kernel(now=False)
    assert wait_gone(tree) == []
    assert find_record("k-shutdown") is None


def test_kernel_restart_ends_the_server(kernel: Any, fake_python: str) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, fake_python, "k-restart")
    manager.restart_kernel(now=False)
    assert wait_gone(tree) == []
    client.wait_for_ready(timeout=60)
    assert run(client, "print(1 + 1)").strip() == "2"  # the new kernel works


def test_kernel_sigkill_ends_the_server(kernel: Any, fake_python: str) -> None:
    manager, client = kernel
    tree = launch_in_kernel(client, fake_python, "k-sigkill")
    kernel_pid = manager.provisioner.process.pid  # type: ignore[union-attr]
    os.kill(kernel_pid, signal.SIGKILL)
    assert wait_gone(tree) == []
    deadline = time.monotonic() + GONE_WITHIN_S
    while find_record("k-sigkill") is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert find_record("k-sigkill") is None
