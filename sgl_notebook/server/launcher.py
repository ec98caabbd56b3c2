"""Start one server process and see it up: free port, own session, log pump, phases, early failure.

:func:`start_server` returns a :class:`ServerProcess` once the server's own ready signal arrived
(the ready line in its log, or its health endpoint answering 200, checked every 0.2 s). If the
process exits or the deadline passes first, the whole tree is terminated and a
:class:`~sgl_notebook.server.errors.LaunchError` subclass names the cause with the log tail.
A clash on an automatically chosen port is retried on another port.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.server.diagnose import classify_launch_failure
from sgl_notebook.server.engines import EngineSpec, check_engine_installed, resolve_engine
from sgl_notebook.server.errors import (
    EngineNotInstalledError,
    LaunchTimeoutError,
    ModelNotFoundError,
    PortInUseError,
)
from sgl_notebook.server.logpump import LogPump
from sgl_notebook.server.phasetracker import PhaseTracker
from sgl_notebook.server.ports import find_free_port, port_is_free
from sgl_notebook.server.proctree import pid_create_time, terminate_tree
from sgl_notebook.server.registry import (
    ServerRecord,
    kernel_id_from_connection_file,
    list_records,
    registry_dir,
    remove_record,
    write_record,
)
from sgl_notebook.server.watchdog import spawn_watchdog

__all__ = ["LaunchConfig", "ServerProcess", "start_server", "PROBE_INTERVAL_S"]

PROBE_INTERVAL_S = 0.2
PORT_ATTEMPTS = 4
LOG_TAIL_LINES = 30


@dataclass
class LaunchConfig:
    """Everything :func:`start_server` needs; mirrors ``launch()``'s arguments."""

    model_path: str | None = None
    engine: str = "auto"
    name: str | None = None
    port: int | None = None
    host: str = "127.0.0.1"
    api_key: str | None = None
    python: str | None = None
    timeout: float = 600.0
    extra_args: Sequence[str] = ()
    server_args: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ServerProcess:
    """A running server this process started (one attempt, one port)."""

    spec: EngineSpec
    engine_reason: str
    argv: list[str]
    popen: subprocess.Popen[str]
    pump: LogPump
    tracker: PhaseTracker
    record: ServerRecord
    watchdog: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.record.url

    def is_alive(self) -> bool:
        if self.popen.poll() is not None:
            return False
        # poll() answers None without looking while another thread (the router group's worker
        # watcher) is reaping the same process: ask the OS too.
        if pid_create_time(self.popen.pid) is not None:
            return True
        # Gone, or a zombie: let Popen record the exit code (what a "killed by" message reads);
        # when another thread is reaping it, that thread sets it in a moment.
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1.0)
        return False

    def stop(self, timeout: float = 10.0, save_log: Path | None = None) -> None:
        """Terminate the tree, wait, kill; drop the record, the watchdog and the log file
        (copied first to ``save_log``, shutdown lines included, when given)."""
        terminate_tree(self.popen.pid, self.record.pgid, timeout=timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self.pump.close()
        try:
            if save_log is not None:
                self.pump.save(save_log)
        finally:  # a failed copy still leaves nothing behind
            if self.watchdog is not None and self.watchdog.poll() is None:
                self.watchdog.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.watchdog.wait(timeout=5)
            remove_record(self.record.id)
            for path in (self.pump.log_path, self.pump.rotated_path):
                if path is not None:
                    with contextlib.suppress(OSError):
                        path.unlink()


def _slug(text: str) -> str:
    base = Path(text.rstrip("/")).name or text
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40] or "server"


_names_lock = threading.Lock()
_names_in_flight: set[str] = set()


def _claim_name(requested: str | None, model: str | None, engine: str) -> str:
    """``requested``, or a free name from the model ("smollm2", "smollm2-2", ...)."""
    with _names_lock:
        taken = {r.name for r in list_records()} | _names_in_flight
        if requested:
            if requested in taken:
                raise ValueError(
                    f"a server named {requested!r} is already running; pick another name= "
                    "or stop it first (sgl-notebook stop NAME)"
                )
            name = requested
        else:
            base = _slug(model) if model else ("smollm2" if engine == "cpu" else engine)
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}-{n}"
        _names_in_flight.add(name)
        return name


def _release_name(name: str) -> None:
    with _names_lock:
        _names_in_flight.discard(name)


def _looks_like_local_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or os.sep + os.sep in model


def _owner_kernel_id() -> str | None:
    # ipykernel exposes its connection file through the running app, if any
    with contextlib.suppress(Exception):
        if "ipykernel" in sys.modules:
            from ipykernel.kernelapp import IPKernelApp

            if IPKernelApp.initialized():
                return kernel_id_from_connection_file(IPKernelApp.instance().connection_file)
    return None


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # lines must arrive as they are written, for phases
    env.setdefault("TQDM_MININTERVAL", "1")
    return env


def _probe(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _fail(process: ServerProcess, timed_out: bool, timeout: float) -> Exception:
    """Stop the tree and build the error that says why the launch failed."""
    rc = process.popen.poll()
    process.stop(timeout=5.0)
    tail = process.pump.lines(LOG_TAIL_LINES)
    if timed_out:
        phase = process.tracker.current
        where = f" (last phase: {phase.message})" if phase else ""
        error: Exception = LaunchTimeoutError(
            f"{process.spec.name} server did not become ready within {timeout:.0f} s{where}",
            tail,
            hint="pass a larger timeout= if the model is large, or read the log lines below",
        )
    else:
        cls, reason, hint = classify_launch_failure(process.pump.lines(), rc)
        error = cls(f"{process.spec.name} server failed: {reason}", tail, hint=hint)
    process.tracker.emit(PhaseEvent(LaunchPhase.FAILED, _first_line(error), None, None))
    return error


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]


def _wait_ready(process: ServerProcess, deadline: float, timeout: float) -> None:
    health_url = process.url + process.spec.health_path
    api_key = process.record.api_key
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    tracker = process.tracker
    with httpx.Client(timeout=2.0, headers=headers, trust_env=False) as client:
        next_probe = 0.0
        while not tracker.ready.is_set():
            if process.popen.poll() is not None:
                process.pump.join(2.0)  # let the last lines of the traceback arrive
                raise _fail(process, False, timeout)
            if tracker.failed.is_set():
                # a fatal line: give the process a moment to print the rest and exit
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.popen.wait(timeout=5.0)
                process.pump.join(1.0)
                raise _fail(process, False, timeout)
            now = time.monotonic()
            if now >= deadline:
                raise _fail(process, True, timeout)
            if now >= next_probe:
                next_probe = now + PROBE_INTERVAL_S
                if _probe(client, health_url):
                    tracker.emit(PhaseEvent(LaunchPhase.READY, "Ready", 1.0, None))
                    break
            tracker.wait_changed(max(0.0, min(next_probe - time.monotonic(), deadline - now)))


def _popen(argv: list[str]) -> subprocess.Popen[str]:
    """The server process: its own session, output piped line by line, no stdin."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        env=_child_env(),
        start_new_session=True,  # a kernel interrupt (SIGINT to its group) must not reach it
        close_fds=True,
    )


def _new_record(
    server_id: str, spec: EngineSpec, config: LaunchConfig, name: str, port: int,
    api_key: str | None, pid: int, log_path: Path,
) -> ServerRecord:
    # a wildcard bind is reached through localhost; IPv6 literals need brackets in a URL
    host_in_url = config.host if config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host_in_url:
        host_in_url = f"[{host_in_url}]"
    return ServerRecord(
        id=server_id,
        name=name,
        engine=spec.name,
        model=config.model_path or ("smollm2" if spec.name == "cpu" else ""),
        url=f"http://{host_in_url}:{port}",
        host=config.host,
        port=port,
        pid=pid,
        pgid=pid,
        create_time=pid_create_time(pid),
        started_at=time.time(),
        log_path=str(log_path),
        owner_pid=os.getpid(),
        owner_kernel_id=_owner_kernel_id(),
        api_key=api_key,
        managed=True,
    )


def _spawn(
    spec: EngineSpec,
    argv: list[str],
    config: LaunchConfig,
    name: str,
    port: int,
    api_key: str | None,
    on_line: Callable[[str], None] | None,
    on_phase: Callable[[PhaseEvent], None] | None,
) -> ServerProcess:
    """Start ``argv``, register it, pump its log, and arm its watchdog (not yet ready)."""
    server_id = uuid.uuid4().hex[:12]
    log_path = registry_dir() / "logs" / f"{server_id}.log"
    popen = _popen(argv)
    record = _new_record(server_id, spec, config, name, port, api_key, popen.pid, log_path)
    tracker = PhaseTracker(spec.dialect)
    if on_phase is not None:
        # FAILED is told once, when start_server gives up (a port clash is retried silently)
        tracker.on_phase(
            lambda event: None if event.phase is LaunchPhase.FAILED else on_phase(event)
        )
    pump = LogPump(popen, log_path)
    pump.add_listener(tracker.feed_line)
    if on_line is not None:
        pump.add_listener(on_line)
    write_record(record)
    process = ServerProcess(spec, "", argv, popen, pump, tracker, record)
    pump.start()
    process.watchdog = spawn_watchdog(
        pid=popen.pid,
        create_time=record.create_time,
        pgid=record.pgid,
        record_id=server_id,
        log_path=str(log_path),
    )
    tracker.emit(PhaseEvent(LaunchPhase.STARTING, f"Process started (pid {popen.pid})", None, None))
    return process


def _check_before_start(config: LaunchConfig, spec: EngineSpec, python: str) -> None:
    """What can be said wrong before any process starts: the python, the engine, the model
    path, a port asked for and taken."""
    if config.python is not None and not Path(python).exists():
        raise EngineNotInstalledError(
            f"python={python!r} does not exist", hint="pass the path of a python executable"
        )
    check_engine_installed(spec, python)
    if config.model_path and _looks_like_local_path(config.model_path):
        local = Path(config.model_path).expanduser()
        if not local.exists():
            raise ModelNotFoundError(
                f"model path {config.model_path!r} does not exist",
                hint="check the path; hub ids look like 'org/name'",
            )
    if config.port is not None and not port_is_free(config.host, config.port):
        raise PortInUseError(
            f"port {config.port} on {config.host} is already in use",
            hint="leave port= unset to get a free one, or stop what holds it",
        )


def start_server(
    config: LaunchConfig,
    *,
    on_phase: Callable[[PhaseEvent], None] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ServerProcess:
    """Start a server as ``config`` says and return it once ready (see the module docstring).

    ``on_phase`` gets every phase (FAILED once, when giving up); ``on_line`` every log line.
    """
    python = config.python or sys.executable
    spec, reason = resolve_engine(config.engine, python)
    _check_before_start(config, spec, python)
    name = _claim_name(config.name, config.model_path, spec.name)
    deadline = time.monotonic() + config.timeout
    tried: set[int] = set()
    try:
        for attempt in range(PORT_ATTEMPTS):
            known = {r.port for r in list_records(prune=False)}
            port = config.port or find_free_port(config.host, spec.port_range, tried | known)
            tried.add(port)
            argv = spec.build_argv(
                python=python, model_path=config.model_path, host=config.host, port=port,
                api_key=config.api_key, server_args=config.server_args,
                extra_args=tuple(config.extra_args),
            )
            process = _spawn(spec, argv, config, name, port, config.api_key, on_line, on_phase)
            process.engine_reason = reason
            try:
                _wait_ready(process, deadline, config.timeout)
                return process
            except PortInUseError:
                if config.port is not None or attempt == PORT_ATTEMPTS - 1:
                    raise
                # another process took the port between our probe and the bind: next port
                continue
            except BaseException as error:
                # KeyboardInterrupt while waiting included: never leave a half-started server
                process.stop(timeout=5.0)
                if on_phase is not None:
                    with contextlib.suppress(Exception):
                        on_phase(PhaseEvent(LaunchPhase.FAILED, _first_line(error), None, None))
                raise
        raise AssertionError("unreachable")
    finally:
        _release_name(name)

