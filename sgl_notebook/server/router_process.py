"""Start SGLang's router (``python -m sglang_router.launch_router``) in front of worker URLs.

The router process is started like any server (own session, log pump, registry record,
watchdog: see :mod:`sgl_notebook.server.launcher`), on a free port with a free Prometheus port
of its own (its default, 29000, would clash between two routers). It counts as ready only when
``/readiness`` reports every worker healthy: the log says ``Router ready`` before any worker has
registered, so the log alone is not enough.

>>> build_router_argv("py", ["http://127.0.0.1:1", "http://127.0.0.1:2"], policy="round_robin",
...     host="127.0.0.1", port=3, prometheus_port=4)[:8]
['py', '-m', 'sglang_router.launch_router', '--worker-urls', 'http://127.0.0.1:1', \
'http://127.0.0.1:2', '--policy', 'round_robin']
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.protocol.router_logs import parse_router_line, starting_details
from sgl_notebook.server.api_keys import api_key_flag
from sgl_notebook.server.engines import EngineSpec, missing_modules
from sgl_notebook.server.errors import (
    EngineNotInstalledError,
    LaunchError,
    LaunchTimeoutError,
    PortInUseError,
    SglNotebookError,
)
from sgl_notebook.server.launcher import (
    LaunchConfig,
    ServerProcess,
    _claim_name,
    _release_name,
    _spawn,
)
from sgl_notebook.server.ports import find_free_port
from sgl_notebook.server.registry import list_records, write_record

__all__ = [
    "ROUTER_POLICIES",
    "ROUTER_SPEC",
    "ROUTER_PIP",
    "build_router_argv",
    "check_policy",
    "check_router_installed",
    "start_router",
    "readiness",
]

ROUTER_POLICIES = ("cache_aware", "round_robin", "power_of_two", "random")
ROUTER_PIP = "pip install 'sglang-router==0.3.2' (or pip install 'sgl-notebook[router]')"
ROUTER_SPEC = EngineSpec(
    "router", "router", "/readiness", (30000, 40000), ("sglang_router",), ROUTER_PIP
)
# seconds between the router's health checks of its workers (its default is 60): a worker that
# dies shows as unhealthy within a few checks
HEALTH_CHECK_INTERVAL_S = 5
PORT_ATTEMPTS = 4
PROBE_INTERVAL_S = 0.2


def check_policy(policy: str, workers: int) -> None:
    """Raise ``ValueError`` for an unknown policy, or ``power_of_two`` with fewer than 2."""
    if policy not in ROUTER_POLICIES:
        raise ValueError(
            f"unknown router policy {policy!r}; choose one of {', '.join(ROUTER_POLICIES)}"
        )
    if policy == "power_of_two" and workers < 2:
        raise ValueError("the power_of_two policy needs at least 2 workers (it compares two)")


def check_router_installed(python: str) -> None:
    """Raise :class:`EngineNotInstalledError` (with the pip line) unless ``python`` has it."""
    missing = missing_modules(python, ROUTER_SPEC.modules)
    if missing is None:
        raise EngineNotInstalledError(f"cannot run the interpreter {python!r}",
                                      hint="pass python= an existing python executable")
    if missing:
        raise EngineNotInstalledError(
            f"SGLang's router is not installed ({python} cannot import sglang_router)",
            hint=ROUTER_PIP,
        )


def build_router_argv(
    python: str,
    worker_urls: Sequence[str],
    *,
    policy: str,
    host: str,
    port: int,
    prometheus_port: int,
    api_key: str | None = None,
    health_check_interval: int = HEALTH_CHECK_INTERVAL_S,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The router's argv (a list, never a shell string)."""
    argv = [
        python, "-m", "sglang_router.launch_router",
        "--worker-urls", *worker_urls,
        "--policy", policy,
        "--host", host, "--port", str(port),
        "--prometheus-host", "127.0.0.1" if host in ("127.0.0.1", "localhost") else host,
        "--prometheus-port", str(prometheus_port),
        "--health-check-interval-secs", str(health_check_interval),
        "--worker-startup-check-interval", "1",
        "--log-level", "info",
    ]
    if api_key:
        argv.append(api_key_flag(api_key))
    return [*argv, *extra_args]


def readiness(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The router's ``/readiness`` JSON (ready or not), or None when it does not answer."""
    try:
        response = httpx.get(url + "/readiness", timeout=timeout, trust_env=False)
        data = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _phase_from_line(line: str, expected: int) -> PhaseEvent | None:
    event = parse_router_line(line)
    if event is None:
        return None
    when = event.record.timestamp
    if event.kind == "starting":
        _, policy = starting_details(event)
        return PhaseEvent(LaunchPhase.STARTING, f"Router starting (policy {policy})", None, when)
    if event.kind == "router_ready":
        return PhaseEvent(LaunchPhase.WARMUP, f"Router up; registering {expected} workers",
                          0.0, when)
    return None


def _wait_ready(process: ServerProcess, expected: int, deadline: float, timeout: float) -> None:
    tracker = process.tracker
    next_probe = 0.0
    while True:
        if process.popen.poll() is not None or tracker.failed.is_set():
            process.pump.join(2.0)
            raise _failure(process)
        now = time.monotonic()
        if now >= deadline:
            state = readiness(process.url) or {}
            raise LaunchTimeoutError(
                f"the router did not report {expected} healthy workers within {timeout:.0f} s "
                f"({state.get('healthy_workers', 0)} healthy)",
                process.pump.lines(30),
                hint="check the workers' logs (router.workers[i].logs()); a larger timeout= "
                "helps slow workers",
            )
        if now >= next_probe:
            next_probe = now + PROBE_INTERVAL_S
            state = readiness(process.url)
            if state is not None:
                healthy = int(state.get("healthy_workers") or 0)
                total = int(state.get("total_workers") or 0)
                if state.get("status") == "ready" and healthy >= expected and total >= expected:
                    tracker.emit(PhaseEvent(LaunchPhase.READY, f"Ready: {healthy} workers",
                                            1.0, None))
                    return
                tracker.emit(PhaseEvent(LaunchPhase.WARMUP,
                                        f"Workers registered: {healthy}/{expected}",
                                        healthy / max(expected, 1), None))
        tracker.wait_changed(max(0.0, min(next_probe - time.monotonic(), deadline - now)))


def _failure(process: ServerProcess) -> LaunchError:
    lines = process.pump.lines()
    errors = [e.record.message for e in map(parse_router_line, lines)
              if e is not None and e.kind == "error"]
    text = "\n".join(lines[-40:])
    if "Address already in use" in text:
        return PortInUseError("the router's port or Prometheus port is in use", lines[-30:])
    reason = errors[-1] if errors else f"exit code {process.popen.poll()}"
    return LaunchError(f"the router failed: {reason}", lines[-30:],
                       hint="read the router's log lines below")


def start_router(
    worker_urls: Sequence[str],
    *,
    policy: str,
    name: str | None,
    model: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    api_key: str | None = None,
    python: str | None = None,
    timeout: float = 120.0,
    extra_args: Sequence[str] = (),
    on_phase: Callable[[PhaseEvent], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ServerProcess:
    """Start the router in front of ``worker_urls``; return it once every worker is healthy.

    On failure (or an interrupt) the router is stopped and a ``LaunchError`` subclass says why.
    """
    python = python or sys.executable
    check_policy(policy, len(worker_urls))
    if not worker_urls:
        raise SglNotebookError("a router needs at least one worker")
    check_router_installed(python)
    claimed = _claim_name(name, model or "router", "router")
    deadline = time.monotonic() + timeout
    tried: set[int] = set()
    config = LaunchConfig(model_path=model, engine="router", name=claimed, port=port, host=host,
                          api_key=api_key, python=python, timeout=timeout)
    try:
        for attempt in range(PORT_ATTEMPTS):
            known = {r.port for r in list_records(prune=False)} | tried
            router_port = port or find_free_port(host, ROUTER_SPEC.port_range, known)
            metrics_port = find_free_port("127.0.0.1", (29000, 30000), known | {router_port})
            tried |= {router_port, metrics_port}
            argv = build_router_argv(python, worker_urls, policy=policy, host=host,
                                     port=router_port, prometheus_port=metrics_port,
                                     api_key=api_key, extra_args=extra_args)
            process = _spawn(ROUTER_SPEC, argv, config, claimed, router_port, api_key, on_line,
                             on_phase)
            process.engine_reason = f"SGLang's router ({policy}) in front of {len(worker_urls)}"
            process.pump.add_listener(
                lambda line, p=process: _emit(p, _phase_from_line(line, len(worker_urls)))
            )
            process.record = dataclasses.replace(process.record, metrics_port=metrics_port)
            write_record(process.record)
            try:
                _wait_ready(process, len(worker_urls), deadline, timeout)
                return process
            except PortInUseError:
                process.stop(timeout=5.0)
                if port is not None or attempt == PORT_ATTEMPTS - 1:
                    raise
            except BaseException:
                process.stop(timeout=5.0)
                raise
        raise AssertionError("unreachable")
    finally:
        _release_name(claimed)


def _emit(process: ServerProcess, event: PhaseEvent | None) -> None:
    if event is not None:
        process.tracker.emit(event)
