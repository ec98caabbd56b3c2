"""``Server``: one server as a notebook sees it -- clients, generation, logs, phases, stop/restart.

A managed server (from ``launch``) owns its process; a connected one (from ``connect``) is only a
URL. Either way ``client()``, ``backend()``, ``generate()`` and ``chat()`` carry the API key
(those live in :mod:`sgl_notebook.server.server_clients`). ``start()`` is the one way a process
starts: ``launch()`` and ``restart()`` (also the transparent restart after an idle shutdown) both
go through it, so stats, listeners and the idle monitor are wired the same way every time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sgl_notebook.protocol.phases import PhaseEvent
from sgl_notebook.server import live as live_servers
from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError
from sgl_notebook.server.idle import IdleMonitor, is_request_access_line
from sgl_notebook.server.launcher import LaunchConfig, ServerProcess, start_server
from sgl_notebook.server.logpump import LogFileGone
from sgl_notebook.server.ports import port_is_free
from sgl_notebook.server.registry import ServerRecord, remove_record, stopped_by
from sgl_notebook.server.server_clients import ServerClients, chat_template_for
from sgl_notebook.server.stopping import log_target, why_stopped
from sgl_notebook.stats import ServerStats
from sgl_notebook.stats.load import LoadProbe

__all__ = ["Server", "chat_template_for"]

LineListener = Callable[[str], None]
PhaseListener = Callable[[PhaseEvent], None]
IDLE_NOTE = "[sgl-notebook] Stopped after {idle:.0f} s without requests (idle_timeout={timeout})."


def make_stats(engine: str) -> ServerStats:
    """A fresh ``ServerStats`` for an engine's log dialect."""
    return ServerStats(dialect="vllm" if engine == "vllm" else "sglang")


class Server(ServerClients):
    """A running (or stopped) server. Use :func:`sgl_notebook.launch` or ``connect`` to get one."""

    def __init__(
        self,
        record: ServerRecord,
        *,
        process: ServerProcess | None = None,
        config: LaunchConfig | None = None,
        idle_timeout: float | None = None,
        stats: ServerStats | None = None,
    ) -> None:
        self.record = record
        self._process = process
        self._config = config
        self._lock = threading.RLock()
        self._line_listeners: list[LineListener] = []
        self._phase_listeners: list[PhaseListener] = []
        self._stats = stats if stats is not None else make_stats(record.engine)
        self._client = None
        self.status = "ready" if process is not None or not record.managed else "stopped"
        self.auto_restart = True  # idle-stopped servers restart on the next request
        self.idle_timeout = idle_timeout
        self._idle: IdleMonitor | None = None
        if process is not None:
            self._attach(process)

    @classmethod
    def from_config(cls, config: LaunchConfig, *, idle_timeout: float | None = None) -> Server:
        """A managed server that has not started yet: ``start()`` starts it (``launch()`` does
        both). Its name, URL and port are known once it has started."""
        record = ServerRecord(
            id="", name=config.name or "", engine=config.engine, model=config.model_path or "",
            url="", host=config.host, port=config.port or 0, pid=None, pgid=None,
            create_time=None, started_at=0.0, log_path=None, owner_pid=os.getpid(),
            owner_kernel_id=None, api_key=config.api_key, managed=True,
        )
        return cls(record, config=config, idle_timeout=idle_timeout)

    # -- identity ---------------------------------------------------------------------------

    name = property(lambda self: self.record.name)
    port = property(lambda self: self.record.port)
    engine = property(lambda self: self.record.engine)
    log_path = property(lambda self: self.record.log_path)

    @property
    def pid(self) -> int | None:
        return self.record.pid

    @property
    def managed(self) -> bool:
        return self.record.managed

    @property
    def engine_reason(self) -> str:
        """Why this engine was chosen (``engine="auto"`` says which and why)."""
        return self._process.engine_reason if self._process else ""

    @property
    def last_request_at(self) -> float | None:
        """``time.monotonic()`` when the idle monitor last saw a request (through this Server or
        as an access line in its log); None without ``idle_timeout`` or once it has stopped."""
        idle = self._idle
        return idle.last_activity if idle is not None else None

    def __repr__(self) -> str:
        return (f"Server(name={self.name!r}, engine={self.engine!r}, model={self.model!r}, "
                f"url={self.url!r}, status={self.status!r})")

    # -- wiring -----------------------------------------------------------------------------

    def feed_stats(self, line: str) -> None:
        """Pass one log line to ``stats`` (the launcher calls this for every line)."""
        with contextlib.suppress(Exception):
            self._stats.feed(line)

    def _attach(self, process: ServerProcess) -> None:
        """Wire a (new) process's log lines into stats, listeners and the idle monitor."""
        self._process = process
        self.record = process.record
        process.pump.add_listener(self._on_line)
        if self._idle is not None:
            self._idle.stop()
            self._idle = None
        if self.idle_timeout:
            self._idle = IdleMonitor(self.idle_timeout, self._stop_for_idle)
            self._idle.start()

    def _on_line(self, line: str) -> None:
        if self._idle is not None and is_request_access_line(line):
            self._idle.touch()
        for listener in list(self._line_listeners):
            with contextlib.suppress(Exception):
                listener(line)

    def _on_phase(self, event: PhaseEvent) -> None:
        for listener in list(self._phase_listeners):
            with contextlib.suppress(Exception):
                listener(event)

    def add_line_listener(self, fn: LineListener) -> Callable[[], None]:
        """Call ``fn(line)`` (on the pump thread) for every log line; returns a remover."""
        self._line_listeners.append(fn)
        return lambda: self._line_listeners.remove(fn) if fn in self._line_listeners else None

    def on_phase(self, fn: PhaseListener) -> Callable[[], None]:
        """Call ``fn(event)`` for launch phases (past ones replayed now, future restarts too)."""
        self._phase_listeners.append(fn)
        if self._process is not None:
            for event in list(self._process.tracker.events):
                with contextlib.suppress(Exception):
                    fn(event)
        return lambda: self._phase_listeners.remove(fn) if fn in self._phase_listeners else None

    def phases(self, timeout: float | None = None) -> Iterator[PhaseEvent]:
        """The current launch's phases, blocking until READY or FAILED."""
        if self._process is None:
            return iter(())
        return self._process.tracker.iter_phases(timeout)

    @property
    def stats(self) -> ServerStats:
        """A ``sgl_notebook.stats.ServerStats`` fed with every log line since launch."""
        self._watch_load(self._stats)
        return self._stats

    def _watch_load(self, stats: ServerStats) -> None:
        """Give the stats this server's load route (re-made when a restart moved the port)."""
        probe = stats.load_probe
        if self.url and (probe is None or probe.url != str(self.url).rstrip("/")):
            stats.watch_load(LoadProbe(self.url, self.api_key, engine=self.engine))

    def bench(
        self,
        *,
        live: bool | None = None,
        python: str | None = None,
        timeout: float | None = None,
        **load: Any,
    ) -> Any:
        """Put load on this server with SGLang's own ``python -m sglang.bench_serving``.

        ``load``: ``num_prompts``, ``max_concurrency``, ``request_rate``, ``dataset``
        (``"random-ids"`` or ``"shared-prefix"``), ``input_len``, ``output_len``, ``groups``,
        ``prompts_per_group``, ``system_prompt_len``, ``question_len``, ``seed``, ``backend``,
        ``tokenizer``. In a notebook it shows bench's progress and this server's dashboard.
        Returns a ``BenchResult`` (``.summary`` with bench_serving's keys, ``.df()`` one row
        per request); an interrupt returns the partial summary. See docs/stats.md.
        """
        from sgl_notebook.display.bench_view import bench
        from sgl_notebook.server.bench_setup import options_from

        return bench(self, options_from(load), live=live, python=python, timeout=timeout)

    # -- liveness -----------------------------------------------------------------------

    def is_alive(self) -> bool:
        """Managed: the process runs. Connected: the server answers ``/health``."""
        if self.managed:
            return self._process is not None and self._process.is_alive()
        return self._sgl_client().health()

    def logs(self, n: int = 50) -> list[str]:
        """The last ``n`` log lines (managed servers; connected ones have none here)."""
        return self._process.pump.lines(n) if self._process is not None else []

    def save_log(self, path: str | os.PathLike[str]) -> Path:
        """Write this server's whole log to ``path`` and return it, e.g. for
        ``sgl_notebook.stats.from_log`` post-mortems. Works while the server runs and after it
        exits on its own; ``stop()`` deletes the log, so use ``stop(save_log=path)`` there."""
        target = log_target(path)
        try:
            return self._own_process_for_log().pump.save(target)
        except OSError as exc:
            if not isinstance(exc, LogFileGone):
                raise SglNotebookError(f"cannot save the log to {str(target)!r}: {exc}") from None
            raise ServerStoppedError(
                f"the log of server {self.name!r} is gone: stop() deletes it. Pass "
                "stop(save_log=path) to keep a copy; server.logs() still has the last lines"
            ) from None

    def _own_process_for_log(self) -> ServerProcess:
        """The process whose log file this Server keeps (connected servers have none here)."""
        if self._process is None:
            raise SglNotebookError(
                f"server {self.name!r} was started elsewhere (connect()); its log is where it runs"
            )
        return self._process

    def wait_ready(self, timeout: float = 600.0) -> Server:
        """Block until the server answers its health check (launch already waited for it)."""
        self._ensure_running()
        client, deadline = self._sgl_client(), time.monotonic() + timeout
        path = "/health" if self.engine == "vllm" or not self.managed else "/health_generate"
        while not client.health(path):
            if self.managed and not self.is_alive():
                raise ServerStoppedError(f"server {self.name!r} exited; see server.logs()")
            if time.monotonic() > deadline:
                raise ServerStoppedError(f"server {self.name!r} not ready after {timeout:.0f} s")
            time.sleep(0.2)
        return self

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, *, timeout: float | None = None, on_phase: PhaseListener | None = None
              ) -> Server:
        """Start this server's process and return once it is ready (``launch()`` and
        ``restart()`` both come here). A server that ran before keeps its name, and its port
        when that is free. ``on_phase`` hears this start's phases only (``on_phase()`` listeners
        hear every start's)."""
        if not self._can_start():
            raise SglNotebookError("only servers started with launch() can be restarted")

        def forward(event: PhaseEvent) -> None:
            if on_phase is not None:
                on_phase(event)
            self._on_phase(event)

        with self._lock:
            self.status = "starting"
            try:
                process = self._start_process(timeout, forward)
            except BaseException:
                self.status = "failed"
                raise
            self._close_client()
            self._attach(process)
            self._after_start()
            self.status = "ready"
        live_servers.remember(self)
        return self

    def _can_start(self) -> bool:
        return self.managed and self._config is not None

    def _start_process(self, timeout: float | None, on_phase: PhaseListener) -> ServerProcess:
        """One process as ``launch()`` asked, fed into this server's stats from its first line."""
        assert self._config is not None  # _can_start() said so
        config = self._config
        if self.record.pid is not None:  # it ran before: same name, same port when free
            config = replace(config, name=self.name)
            if config.port is None and port_is_free(config.host, self.port):
                config = replace(config, port=self.port)
        if timeout is not None:
            config = replace(config, timeout=timeout)
        return start_server(config, on_phase=on_phase, on_line=self.feed_stats)

    def _after_start(self) -> None:
        """Called under the lock once a new process is attached (routers watch their workers)."""

    def stop(
        self, timeout: float = 10.0, save_log: str | os.PathLike[str] | None = None
    ) -> Path | None:
        """Terminate the whole process tree (managed) or forget the server (connected).

        The server's log file is deleted with it; ``save_log=path`` first copies the whole log,
        shutdown lines included, to ``path`` and returns that path.
        """
        target = None if save_log is None else log_target(save_log)
        copy_failed: str | None = None  # why the log could not be copied (the stop goes on)
        if target is not None:
            self._own_process_for_log()
        with self._lock:
            if self._idle is not None:
                self._idle.stop()
                self._idle = None
            if self._process is not None:
                try:
                    self._process.stop(timeout=timeout, save_log=target)
                except LogFileGone:  # stopped before (idle shutdown): the log went then
                    copy_failed = (
                        "its log was deleted when it stopped earlier (idle shutdown or stop())"
                    )
                except OSError as exc:  # the copy could not be written (permissions, full disk)
                    copy_failed = f"its log could not be copied to {str(target)!r}: {exc}"
            else:
                remove_record(self.record.id)
            if self.status != "idle-stopped":
                self.status = "stopped"
            self._close_client()
        live_servers.forget(self)
        if copy_failed is not None:
            raise ServerStoppedError(
                f"server {self.name!r} is stopped, but {copy_failed}; "
                "server.logs() still has the last lines"
            )
        return target

    def _stop_for_idle(self, idle_for: float) -> None:
        with self._lock:
            if self._process is None or not self._process.is_alive():
                return
            note = IDLE_NOTE.format(idle=idle_for, timeout=self.idle_timeout)
            self._process.pump.feed(note)
            self._idle = None
            self._process.stop()
            self.status = "idle-stopped"

    def restart(self, timeout: float | None = None) -> Server:
        """Stop (if running) and launch again with the same settings, on the same port if free."""
        if not self._can_start():
            raise SglNotebookError("only servers started with launch() can be restarted")
        with self._lock:
            if self._process is not None:
                # also when it died: its leftovers, record and log file go
                self._process.stop()
            return self.start(timeout=timeout)

    def _ensure_running(self) -> None:
        """Before a request: restart an idle-stopped server, or say clearly why we cannot."""
        if not self.managed:
            return
        if self.status == "idle-stopped":
            if not self.auto_restart:
                summary = f"server {self.name!r} was stopped after {self.idle_timeout} s idle"
                raise ServerStoppedError(
                    f"{summary}; call server.restart() (or set server.auto_restart = True)",
                    summary=summary,
                )
            self.restart()
        elif self.status == "ready" and not self.is_alive():
            self.status = "exited"
            code = self._process.popen.returncode if self._process else None
            summary = why_stopped(self.name, code, stopped_by(self.record.id))
            tail = self.logs(15)
            raise ServerStoppedError(
                f"{summary}; call server.restart() to start it again. Last log lines:\n"
                + "\n".join(tail),
                summary=summary,
                log_tail=tail,
            )
        elif self.status in ("stopped", "failed", "exited") or not self.is_alive():
            summary = f"server {self.name!r} is not running (status {self.status!r})"
            raise ServerStoppedError(
                f"{summary}; call server.restart() or sgl_notebook.launch(...) again",
                summary=summary,
            )
        if self._idle is not None:
            self._idle.touch()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
