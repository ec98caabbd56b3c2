"""``Server``: one server as a notebook sees it -- clients, generation, logs, phases, stop/restart.

A managed server (from ``launch``) owns its process; a connected one (from ``connect``) is only a
URL. Either way ``client()``, ``backend()``, ``generate()`` and ``chat()`` carry the API key.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sgl_notebook.client import SglClient
from sgl_notebook.protocol.phases import PhaseEvent
from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError
from sgl_notebook.server.idle import IdleMonitor, is_request_access_line
from sgl_notebook.server.launcher import LaunchConfig, ServerProcess, start_server
from sgl_notebook.server.logpump import LogFileGone
from sgl_notebook.server.registry import (
    ServerRecord,
    record_is_alive,
    remove_record,
    stopped_by,
)

__all__ = ["Server", "chat_template_for"]

LineListener = Callable[[str], None]
IDLE_NOTE = "[sgl-notebook] Stopped after {idle:.0f} s without requests (idle_timeout={timeout})."


def chat_template_for(model: str) -> str | None:
    """The sglang frontend chat template for a model, where sglang's own guess would be wrong.

    sglang matches templates on the model path and falls back to "default" (``USER:`` /
    ``ASSISTANT:``); ChatML models such as SmolLM2 need "chatml". A local folder whose tokenizer
    config uses ``<|im_start|>`` is ChatML too. None means: let sglang decide.
    """
    lowered = model.lower()
    if "smollm" in lowered or lowered in ("", "smollm2"):
        return "chatml"
    config = Path(model).expanduser() / "tokenizer_config.json"
    with contextlib.suppress(OSError, ValueError):
        if config.is_file() and "<|im_start|>" in config.read_text(encoding="utf-8"):
            return "chatml"
    return None


def make_stats(engine: str) -> tuple[Any, str | None]:
    """A fresh ``ServerStats`` for an engine's log dialect, or (None, why not)."""
    try:
        from sgl_notebook.stats import ServerStats

        return ServerStats(dialect="vllm" if engine == "vllm" else "sglang"), None
    except (ImportError, AttributeError, TypeError) as error:
        return None, f"{type(error).__name__}: {error}"


class Server:
    """A running (or stopped) server. Use :func:`sgl_notebook.launch` or ``connect`` to get one."""

    def __init__(
        self,
        record: ServerRecord,
        *,
        process: ServerProcess | None = None,
        config: LaunchConfig | None = None,
        idle_timeout: float | None = None,
        stats: Any = None,
    ) -> None:
        self.record = record
        self._process = process
        self._config = config
        self._lock = threading.RLock()
        self._line_listeners: list[LineListener] = []
        self._phase_listeners: list[Callable[[PhaseEvent], None]] = []
        self._stats: Any = stats
        self._stats_error: str | None = None
        self._client: SglClient | None = None
        self.status = "ready" if process is not None or not record.managed else "stopped"
        self.auto_restart = True  # idle-stopped servers restart on the next request
        self.idle_timeout = idle_timeout
        self._idle: IdleMonitor | None = None
        if stats is None:
            self._stats, self._stats_error = make_stats(self.engine)
        if process is not None:
            self._attach(process)

    # -- identity ---------------------------------------------------------------------------

    name = property(lambda self: self.record.name)
    url = property(lambda self: self.record.url)
    port = property(lambda self: self.record.port)
    engine = property(lambda self: self.record.engine)
    model = property(lambda self: self.record.model)
    api_key = property(lambda self: self.record.api_key)
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

    def __repr__(self) -> str:
        return (f"Server(name={self.name!r}, engine={self.engine!r}, model={self.model!r}, "
                f"url={self.url!r}, status={self.status!r})")

    # -- wiring -----------------------------------------------------------------------------

    def feed_stats(self, line: str) -> None:
        """Pass one log line to ``stats`` (the launcher calls this for every line)."""
        if self._stats is not None:
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

    def on_phase(self, fn: Callable[[PhaseEvent], None]) -> Callable[[], None]:
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
    def stats(self) -> Any:
        """A ``sgl_notebook.stats.ServerStats`` fed with every log line since launch."""
        if self._stats is None:
            raise SglNotebookError(
                f"live stats are unavailable ({self._stats_error}); "
                "reinstall sgl-notebook or update it"
            )
        self._watch_load(self._stats)
        return self._stats

    def _watch_load(self, stats: Any) -> None:
        """Give the stats this server's load route (re-made when a restart moved the port)."""
        probe = stats.load_probe
        if self.url and (probe is None or probe.url != str(self.url).rstrip("/")):
            from sgl_notebook.stats.load import LoadProbe

            stats.watch_load(LoadProbe(self.url, self.api_key, engine=self.engine))

    def _note_answer(self, result: Any, started: float) -> Any:
        """Short answers log no decode line: their own token/s goes into the stats."""
        if self._stats is not None:
            from sgl_notebook.stats.answers import note_answer

            note_answer(self._stats, result, time.monotonic() - started)
        return result

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

    def dashboard(self, **kwargs: Any) -> Any:
        """A live stats dashboard for this server (see ``sgl_notebook.display.dashboard``)."""
        from sgl_notebook.display.dashboard import dashboard

        return dashboard(self, **kwargs)

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
            if self._client is not None:
                self._client.close()
                self._client = None
        from sgl_notebook.server import api

        api.forget(self)
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
        if not self.managed or self._config is None:
            raise SglNotebookError("only servers started with launch() can be restarted")
        with self._lock:
            if self._process is not None:
                # also when it died: its leftovers, record and log file go
                self._process.stop()
            self.status = "starting"
            config = replace(self._config, name=self.name)
            if config.port is None:
                from sgl_notebook.server.ports import port_is_free

                if port_is_free(config.host, self.port):
                    config = replace(config, port=self.port)
            if timeout is not None:
                config = replace(config, timeout=timeout)
            try:
                process = start_server(config, on_phase=self._on_phase, on_line=self.feed_stats)
            except BaseException:
                self.status = "failed"
                raise
            if self._client is not None:
                self._client.close()
                self._client = None
            self._attach(process)
            self.status = "ready"
        from sgl_notebook.server import api

        api.remember(self)
        return self

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

    # -- clients --------------------------------------------------------------------------

    def _sgl_client(self) -> SglClient:
        if self._client is None:
            self._client = SglClient(self.url, api_key=self.api_key)
        return self._client

    def http(self) -> SglClient:
        """The toolkit's own httpx client (native ``/generate``, info, flush, abort)."""
        self._ensure_running()
        return self._sgl_client()

    def client(self, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` client bound to this server (API key included)."""
        import openai

        self._ensure_running()
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.api_key or "EMPTY", **kwargs)

    def async_client(self, **kwargs: Any) -> Any:
        """An ``openai.AsyncOpenAI`` client bound to this server."""
        import openai

        self._ensure_running()
        return openai.AsyncOpenAI(
            base_url=self.url + "/v1", api_key=self.api_key or "EMPTY", **kwargs
        )

    def backend(self, chat_template_name: str | None = None) -> Any:
        """An sglang ``RuntimeEndpoint`` for the frontend language, with the right chat template.

        >>> sgl.set_default_backend(server.backend())     # doctest: +SKIP
        """
        from sglang import RuntimeEndpoint

        self._ensure_running()
        template = chat_template_name or chat_template_for(self.model)
        return RuntimeEndpoint(self.url, api_key=self.api_key, chat_template_name=template)

    def generate(self, prompt: Any = None, *, stream: bool = False, **sampling: Any) -> Any:
        """Native ``/generate``: a ``GenerateResult`` (text + meta_info), or deltas if streaming."""
        self._ensure_running()
        started = time.monotonic()
        result = self._sgl_client().generate(prompt, stream=stream, **sampling)
        return result if stream else self._note_answer(result, started)

    def chat(self, messages_or_text: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        """``/v1/chat/completions``: a ``ChatResult``, or text deltas with ``stream=True``."""
        self._ensure_running()
        kwargs.setdefault("model", self.model or "default")
        started = time.monotonic()
        result = self._sgl_client().chat(messages_or_text, stream=stream, **kwargs)
        return result if stream else self._note_answer(result, started)

    def is_registered(self) -> bool:
        return record_is_alive(self.record)


def why_stopped(name: str, exit_code: int | None, note: dict[str, Any] | None) -> str:
    """What happened to a server that no longer runs, for people.

    >>> why_stopped("live", -15, {"by": "JupyterLab", "at": 0.0})
    "server 'live' was stopped from JupyterLab"
    >>> why_stopped("live", -9, None)
    "server 'live' was killed by SIGKILL (exit code -9), not by sgl-notebook"
    """
    if note is not None:
        return f"server {name!r} was stopped from {note['by']}"
    if exit_code is not None and exit_code < 0:
        try:
            signame = signal.Signals(-exit_code).name
        except ValueError:
            signame = f"signal {-exit_code}"
        return (
            f"server {name!r} was killed by {signame} (exit code {exit_code}), "
            "not by sgl-notebook"
        )
    return f"server {name!r} exited on its own (exit code {exit_code})"


def log_target(path: str | os.PathLike[str]) -> Path:
    """Where a log copy goes: a file path whose folder exists (checked before anything stops)."""
    target = Path(path).expanduser()
    try:
        is_folder, folder_exists = target.is_dir(), target.parent.is_dir()
    except OSError as exc:  # a name too long, say
        raise SglNotebookError(f"cannot save the log to {str(target)!r}: {exc}") from None
    if is_folder:
        raise SglNotebookError(f"{str(target)!r} is a folder; give a file name for the log")
    if not folder_exists:
        raise SglNotebookError(
            f"cannot save the log to {str(target)!r}: that folder does not exist"
        )
    return target
