"""``%sgl bench`` in a real kernel against real CPU-engine servers: the live view, the result,
``-o``, ``--compare``, and every bad input (the kernel stays up, no bench process is left)."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.magics.kernel_session import KernelSession

SMALL = "--num-prompts 3 --input-len 8 --output-len 4 --max-concurrency 2"
LONG = "--num-prompts 400 --input-len 8 --output-len 64 --max-concurrency 1"


def bench_processes(kernel: KernelSession) -> list[psutil.Process]:
    """bench_serving processes the kernel started (other suites on the machine may run theirs)."""
    found = []
    for process in psutil.Process(kernel.manager.provisioner.pid).children(recursive=True):
        try:
            if "sglang.bench_serving" in " ".join(process.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def kernel(tiny_model_dir: Path) -> Iterator[KernelSession]:
    session = KernelSession()
    try:
        session.ok("%load_ext sgl_notebook")
        for name in ("tiny", "tiny2"):
            session.ok(f"%sgl launch {tiny_model_dir} --engine cpu --name {name}", timeout=300)
        session.ok("%sgl use tiny")
        yield session
    finally:
        session.run("%sgl stop --all", timeout=120)
        session.close()


def _pid_of(kernel: KernelSession, name: str) -> int:
    code = (
        "import sgl_notebook\n"
        f"print([s.pid for s in sgl_notebook.servers() if s.name == {name!r}][0])"
    )
    out = kernel.ok(code).stdout()
    return int(out.strip())


def _html(execution: Any) -> str:
    return "".join(o["data"].get("text/html", "") for o in execution.outputs())


def test_a_real_bench_shows_progress_and_returns_the_result(kernel: KernelSession) -> None:
    execution = kernel.ok(f"%sgl bench {SMALL} -o run", timeout=400)
    updates = [o for o in execution.outputs(("display_data", "update_display_data"))
               if "bench_serving" in o["data"].get("text/plain", "")]
    assert updates, "no live progress was shown"
    assert "3/3 requests" in updates[-1]["data"]["text/plain"]
    html = _html(execution)
    assert "Completed requests" in html and "<svg" in html
    assert "sgl-dashboard" in json.dumps([o.get("transient", {}) for o in execution.outputs()])
    out = kernel.ok(
        "import json\ns = run.summary; d = run.df()\n"
        "print(json.dumps([s['completed'], len(d), list(d.columns), s['output_throughput'] > 0,"
        " s['mean_ttft_ms'] > 0, 'p99_e2e_latency_ms' in s, 'concurrency' in s]))"
    ).stdout()
    completed, rows, columns, *flags = json.loads(out)
    assert (completed, rows) == (3, 3) and all(flags)
    assert columns == ["input_len", "output_len", "ttft_ms", "itl_ms", "e2e_ms", "error"]
    assert not bench_processes(kernel)


def test_compare_runs_the_same_load_on_two_servers(kernel: KernelSession) -> None:
    execution = kernel.ok(f"%sgl bench --compare tiny tiny2 {SMALL} -o both", timeout=600)
    assert "Same load, two servers" in _html(execution)
    out = kernel.ok("print(list(both.df().columns), both.a.summary['completed'],"
                    " both.b.summary['completed'])").stdout()
    assert out.split() == ["['tiny',", "'tiny2']", "3", "3"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%sgl bench --dataset sharegpt", "unknown dataset 'sharegpt'"),
        ("%sgl bench --backend nope", "unknown backend 'nope'"),
        ("%sgl bench --num-prompts 0", "num-prompts must be at least 1"),
        ("%sgl bench --request-rate 0", "request-rate must be above 0"),
        ("%sgl bench --num-promts 3", "Did you mean"),
        ("%sgl bench nobody", "nobody"),
    ],
)
def test_bad_input_is_one_line_and_the_kernel_lives(
    kernel: KernelSession, line: str, message: str
) -> None:
    execution = kernel.run(line)
    assert execution.status == "error" and message in execution.error()
    assert "Traceback" not in execution.stdout()
    assert kernel.ok("print(6 * 7)").stdout().strip() == "42"
    assert not bench_processes(kernel)


def test_a_stopped_server_and_a_server_that_dies_mid_run(
    kernel: KernelSession, tiny_model_dir: Path
) -> None:
    kernel.ok(f"%sgl launch {tiny_model_dir} --engine cpu --name victim", timeout=300)
    os.kill(_pid_of(kernel, "victim"), signal.SIGKILL)
    kernel.ok(  # until the kernel sees it gone (a loaded machine can take a moment)
        "import time\nvictim = [s for s in sgl_notebook.servers() if s.name == 'victim'][0]\n"
        "deadline = time.monotonic() + 30\n"
        "while victim.is_alive() and time.monotonic() < deadline:\n    time.sleep(0.1)"
    )
    stopped = kernel.run("%sgl bench victim --num-prompts 2")
    assert stopped.status == "error" and "not running" in stopped.error(), stopped.error()

    kernel.ok(f"%sgl launch {tiny_model_dir} --engine cpu --name victim2", timeout=300)
    pid = _pid_of(kernel, "victim2")
    killed = threading.Event()

    def kill_when_running(msg: dict, _messages: list) -> None:
        text = msg["content"].get("data", {}).get("text/plain", "")
        if not killed.is_set() and "running" in text and "bench_serving" in text:
            killed.set()
            os.kill(pid, signal.SIGKILL)

    died = kernel.collect(kernel.submit(f"%sgl bench victim2 {LONG}"), 400, kill_when_running)
    assert killed.is_set()
    assert died.status == "error" and "stopped during the benchmark" in died.error()
    assert not bench_processes(kernel)
    assert kernel.ok("print('alive')").stdout().strip() == "alive"


def test_an_interrupt_shows_the_partial_summary(kernel: KernelSession) -> None:
    interrupted = threading.Event()

    def interrupt_when_running(msg: dict, _messages: list) -> None:
        text = msg["content"].get("data", {}).get("text/plain", "")
        if not interrupted.is_set() and "running" in text and "bench_serving" in text:
            interrupted.set()
            kernel.manager.interrupt_kernel()

    execution = kernel.collect(kernel.submit(f"%sgl bench tiny {LONG} -o partial"), 400,
                               interrupt_when_running)
    assert interrupted.is_set(), execution.error()
    assert execution.status == "ok", execution.error()
    assert "interrupted" in execution.stdout()
    assert "interrupted: partial summary" in _html(execution)
    assert not bench_processes(kernel)
    out = kernel.ok("print(partial.interrupted, partial.summary['completed'] < 400)").stdout()
    assert out.split() == ["True", "True"]
