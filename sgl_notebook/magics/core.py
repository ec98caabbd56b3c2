"""The ``%sgl`` / ``%%sgl`` magics: configuration traits and dispatch, nothing else.

Parsing lives in :mod:`specs`, templating in :mod:`template`, requests in :mod:`requests` and
:mod:`cell_runner`, display in :mod:`sgl_notebook.display`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import secrets
import warnings
from collections.abc import Callable
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from traitlets import Bool, Float, Int, TraitError, Unicode, validate

from sgl_notebook.display.launch_view import LaunchView
from sgl_notebook.display.server_views import ServerCard, ServerTable
from sgl_notebook.display.stream_view import frontend_mode
from sgl_notebook.magics import router_magic, server_ops
from sgl_notebook.magics.bench_magic import BenchSpec
from sgl_notebook.magics.cell_runner import ServerTarget, run_cell
from sgl_notebook.magics.errors import (
    LaunchCancelledError,
    LaunchFailedError,
    ServerRequestError,
    SglUsageError,
    UnknownSessionError,
    did_you_mean,
)
from sgl_notebook.magics.requests import Defaults, chat_messages, resolve_schema
from sgl_notebook.magics.server_book import ServerBook
from sgl_notebook.magics.specs import (
    CellSpec,
    ConnectSpec,
    FlushSpec,
    HelpSpec,
    InfoSpec,
    LaunchSpec,
    ListSpec,
    LogsSpec,
    RestartSpec,
    SessionResetSpec,
    StatsSpec,
    StopSpec,
    UseSpec,
    cell_magic_arguments,
    command_help,
    line_help,
    parse_cell,
    parse_line,
)
from sgl_notebook.magics.template import render_prompt

__all__ = ["SglMagics"]

ENGINES = ("auto", "sglang", "vllm", "cpu")


def _note_answers(server: Any, results: list[Any]) -> None:
    """Short answers log no decode line: their own token/s goes into the server's stats."""
    from sgl_notebook.stats.answers import note_answer

    stats = getattr(server, "_stats", None)
    if stats is not None:
        note_answer(stats, results)


@magics_class
class SglMagics(Magics):
    """Run and talk to SGLang servers from a notebook (``%config SglMagics.<trait>``)."""

    max_tokens = Int(256, config=True, help="Default --max-tokens of a %%sgl cell.")
    temperature = Float(
        None,
        allow_none=True,
        config=True,
        help="Default --temperature (None: the server's default).",
    )
    stream = Bool(
        True, config=True, help="Stream answers token by token (False: wait for the whole answer)."
    )
    # Each redraw costs the kernel ~0.8 ms of CPU (one comm message through ipykernel's IOPub
    # thread; building it is incremental and cheap), whatever the token rate: 10 a second reads
    # smoothly at half the cost of 20 (benchmarks/bench_magics.py).
    update_rate = Float(
        10.0, config=True, help="Most redraws per second of a streaming answer (1-60)."
    )
    default_engine = Unicode(
        "auto", config=True, help="Engine of %sgl launch: auto, sglang, vllm or cpu."
    )
    idle_timeout = Float(
        None,
        allow_none=True,
        config=True,
        help="Stop launched servers after this many idle seconds (None: never).",
    )
    top_logprobs = Int(5, config=True, help="Alternatives shown on hover with --logprobs (0-20).")

    @validate("max_tokens")
    def _check_max_tokens(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"SglMagics.max_tokens must be at least 1, got {proposal['value']}.")
        return int(proposal["value"])

    @validate("temperature")
    def _check_temperature(self, proposal: Any) -> float | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise TraitError(f"SglMagics.temperature must be >= 0, got {value}.")
        return value  # type: ignore[no-any-return]

    @validate("update_rate")
    def _check_update_rate(self, proposal: Any) -> float:
        if not 1 <= proposal["value"] <= 60:
            raise TraitError(
                f"SglMagics.update_rate must be between 1 and 60, got {proposal['value']}."
            )
        return float(proposal["value"])

    @validate("default_engine")
    def _check_engine(self, proposal: Any) -> str:
        if proposal["value"] not in ENGINES:
            hint = did_you_mean(proposal["value"], ENGINES)
            raise TraitError(f"SglMagics.default_engine must be one of {', '.join(ENGINES)}.{hint}")
        return str(proposal["value"])

    @validate("top_logprobs")
    def _check_top_logprobs(self, proposal: Any) -> int:
        if not 0 <= proposal["value"] <= 20:
            raise TraitError(
                f"SglMagics.top_logprobs must be between 0 and 20, got {proposal['value']}."
            )
        return int(proposal["value"])

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        # A bad value once given to %config stays in the shell's config; refusing it must not
        # make every later %load_ext / %reload_ext fail, so keep the good values and warn.
        try:
            super()._load_config(cfg, section_names=section_names, traits=traits)
        except TraitError as exc:
            warnings.warn(f"ignoring invalid SglMagics configuration: {exc}", stacklevel=2)
            for name, value in dict(cfg.get(type(self).__name__, {})).items():
                with contextlib.suppress(TraitError, AttributeError):
                    setattr(self, name, value)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.book = ServerBook()
        self.sessions: dict[str, list[dict[str, str]]] = {}
        self.last_results: list[Any] = []
        self.last_dashboard: Any = None

    # ------------------------------------------------------------- %%sgl

    # no_var_expand: IPython would otherwise turn `{3}` in `--regex '[0-9]{3}'` into `3`.
    @cell_magic("sgl")  # type: ignore[arg-type]
    @cell_magic_arguments
    @no_var_expand
    def sgl_cell(self, line: str, cell: str) -> None:
        """Send the cell to the current server as a prompt and stream the answer.

        ``{{ name }}`` is filled from the notebook's variables. Examples::

            %%sgl --max-tokens 64 -o answer
            What is the capital of {{ country }}?

            %%sgl --json-schema CitySchema --temperature 0
            Describe Paris as JSON.
        """
        spec = parse_cell(line, cell)
        self.run(spec)

    def run(self, spec: CellSpec) -> list[Any]:
        """Act on a parsed cell: template, resolve the server, send, store ``-o``."""
        namespace = self.shell.user_ns if self.shell is not None else {}
        hidden = getattr(self.shell, "user_ns_hidden", {})
        prompt = render_prompt(spec.prompt, namespace, hidden)
        system = render_prompt(spec.system, namespace, hidden) if spec.system else spec.system
        server = self.book.get(spec.server)
        self._ensure_running(server)
        schema = resolve_schema(spec.json_schema, namespace, hidden) if spec.json_schema else None
        messages = None
        if spec.mode == "chat":
            history = self.sessions.get(spec.session) if spec.session else None
            messages = chat_messages(prompt, system, history)
        elif system:
            prompt = f"{system}\n\n{prompt}"
        target = ServerTarget(
            url=str(server.url).rstrip("/"),
            api_key=getattr(server, "api_key", None),
            name=getattr(server, "name", None),
            model=getattr(server, "model", None),
            log_lines=server.logs if getattr(server, "managed", False) else None,
        )
        defaults = Defaults(self.max_tokens, self.temperature, self.stream, self.top_logprobs)
        try:
            results = run_cell(
                spec,
                prompt,
                messages,
                target,
                defaults,
                schema=schema,
                max_updates_per_s=self.update_rate,
            )
        except ServerRequestError:
            # it died while we asked: say how (killed, stopped from elsewhere), not "unreachable"
            if getattr(server, "managed", False) and not server.is_alive():
                self._ensure_running(server)
            raise
        self.last_results = results
        _note_answers(server, results)
        if spec.session and messages is not None and results:
            self.sessions[spec.session] = [
                *messages,
                {"role": "assistant", "content": results[0].text},
            ]
        if spec.output and namespace is not None:
            namespace[spec.output] = results if spec.n > 1 else results[0]
        return results

    # -------------------------------------------------------------- %sgl

    @line_magic("sgl")  # type: ignore[arg-type]
    @no_var_expand
    def sgl_line(self, line: str) -> Any:
        """Manage servers: %sgl launch|stop|restart|list|use|connect|logs|stats|info|flush|session;
        put load on one with %sgl bench (SGLang's bench_serving).

        Examples::

            %sgl launch                      # GPU: SGLang; no GPU: the CPU engine (SmolLM2)
            %sgl launch Qwen/Qwen2.5-7B-Instruct --name qwen -- --mem-fraction-static 0.8
            %sgl list
            %sgl use qwen
            %sgl bench --num-prompts 50 --max-concurrency 8 -o run
            %sgl stop --all
        """
        return self.dispatch(parse_line(line))

    def dispatch(self, spec: Any) -> Any:
        handlers: dict[type, Callable[[Any], Any]] = {
            LaunchSpec: self._launch,
            StopSpec: self._stop,
            ListSpec: lambda s: ServerTable(self.book.all(), self.book.current),
            UseSpec: self._use,
            ConnectSpec: self._connect,
            LogsSpec: lambda s: server_ops.show_logs(self.book.get(s.name), s.n),
            StatsSpec: self._stats,
            InfoSpec: lambda s: server_ops.server_info(self.book.get(s.name)),
            FlushSpec: lambda s: server_ops.flush_cache(self.book.get(s.name)),
            SessionResetSpec: self._reset_session,
            router_magic.RouterSpec: lambda s: router_magic.front_servers(self, s),
            RestartSpec: self._restart,
            HelpSpec: self._help,
            BenchSpec: self._bench,
        }
        return handlers[type(spec)](spec)

    def _launch(self, spec: LaunchSpec) -> ServerCard | None:
        if spec.replicas is not None or spec.router_policy is not None:
            return router_magic.launch_group(self, spec)  # type: ignore[func-returns-value]
        from sgl_notebook.server.engines import resolve_engine
        from sgl_notebook.server.errors import SglNotebookError

        engine = spec.engine or self.default_engine
        try:
            chosen, reason = resolve_engine(engine, spec.python)
        except SglNotebookError as exc:
            raise SglUsageError(f"%sgl launch: {exc}") from None
        if engine != "auto":
            reason = f"--engine {engine} was asked for"
        model = spec.model or ("smollm2 (SmolLM2-135M-Instruct)" if chosen.name == "cpu" else "")
        mode = frontend_mode()
        view = LaunchView(
            f"launching {model or 'the default model'} on the {chosen.name} engine",
            mode,
            engine=chosen.name,
            reason=reason,
            extra_args=spec.extra_args,
        )
        kwargs: dict[str, Any] = {
            "engine": engine,
            "name": spec.name,
            "api_key": secrets.token_urlsafe(24) if spec.api_key == "auto" else spec.api_key,
            "idle_timeout": spec.idle_timeout
            if spec.idle_timeout is not None
            else self.idle_timeout,
            "extra_args": spec.extra_args,
            "on_phase": view.on_phase,
        }
        if spec.python:
            kwargs["python"] = spec.python
        tail_lines = 15 if mode == "text" else 0
        server = server_ops.launch_with_view(
            view, spec.model, kwargs, subject="server", tail_lines=tail_lines
        )
        self.book.add(server)
        self._set_frontend_backend(server)
        view.succeeded(server)
        return None

    def _restart(self, spec: RestartSpec) -> None:
        """``%sgl restart [NAME]``: the same server again (same settings, same port if free)."""
        from sgl_notebook.server.errors import LaunchError, SglNotebookError

        server = self.book.get(spec.name)
        restart = getattr(server, "restart", None)
        if not callable(restart) or not getattr(server, "managed", False):
            raise SglUsageError(
                f"%sgl restart: {server.name!r} was connected by URL; restart it where it runs, "
                "then %sgl connect again."
            )
        view = LaunchView(
            f"restarting {server.name}", frontend_mode(), engine=getattr(server, "engine", None)
        )
        remove = server.on_phase(view.on_phase) if hasattr(server, "on_phase") else None
        try:
            view.start()
            restart()
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                server.stop(timeout=5.0)
            view.cancelled("nothing left running")
            raise LaunchCancelledError("restart cancelled; nothing left running") from None
        except LaunchError as exc:
            view.failed(exc)
            raise LaunchFailedError(f"The server did not start again: {exc.reason}.") from None
        except SglNotebookError as exc:
            view.discard()
            raise SglUsageError(f"%sgl restart: {exc}") from None
        finally:
            if remove is not None:
                remove()
        self.book.add(server)
        self._set_frontend_backend(server)
        view.succeeded(server)

    def _help(self, spec: HelpSpec) -> None:
        """``%sgl help`` / ``%sgl --help``: what ``%sgl?`` shows; ``%sgl launch --help``: one."""
        if spec.command is not None:
            print(command_help(spec.command))
            return
        print(inspect.cleandoc(SglMagics.sgl_line.__doc__ or ""))

    def _stop(self, spec: StopSpec) -> str:
        if spec.all:
            targets = self.book.all()
        else:
            targets = [self.book.get(n) for n in spec.names] if spec.names else [self.book.get()]
        from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError

        stopped, saved = [], None
        for server in targets:
            try:
                saved = server.stop(save_log=spec.save_log)
            except ServerStoppedError as exc:  # stopped, but its log could not be copied
                self.book.remove(str(server.name))
                raise SglUsageError(f"%sgl stop: {exc}") from None
            except SglNotebookError as exc:  # a bad --save-log path: nothing was stopped
                raise SglUsageError(f"%sgl stop: {exc}") from None
            self.book.remove(str(server.name))
            stopped.append(str(server.name))
        print(f"stopped: {', '.join(stopped)}" if stopped else "no server to stop")
        if saved is not None:
            print(f"log saved to {saved} (read it back with sgl_notebook.stats.from_log)")
        return None  # type: ignore[return-value]

    def _use(self, spec: UseSpec) -> ServerCard:
        server = self.book.get(spec.name)
        self.book.add(server)
        self._set_frontend_backend(server)
        return ServerCard(server, current=True)

    def _connect(self, spec: ConnectSpec) -> ServerCard:
        import sgl_notebook

        try:
            server = sgl_notebook.connect(spec.url, api_key=spec.api_key, name=spec.name)
        except Exception as exc:  # noqa: BLE001 - any failure here means "cannot use that URL"
            raise SglUsageError(
                f"%sgl connect: cannot use {spec.url} ({exc}). Is the server running, and is the "
                "API key right (--api-key)?"
            ) from None
        self.book.add(server)
        self._set_frontend_backend(server)
        return ServerCard(server, current=True)

    def _stats(self, spec: StatsSpec) -> None:
        servers = [self.book.get(n) for n in spec.names] if spec.names else [self.book.get()]
        if len(servers) == 1 and hasattr(servers[0], "workers"):  # a router: its own board
            self.last_dashboard = servers[0].dashboard()
            return
        from sgl_notebook.display.dashboard import dashboard

        try:
            # it displays itself; keep it (not Out[n]) so `.stop()` stays reachable
            self.last_dashboard = dashboard(*servers)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise SglUsageError(f"%sgl stats: {exc}") from None

    def _bench(self, spec: BenchSpec) -> Any:
        from sgl_notebook.magics.bench_magic import run_bench_spec

        return run_bench_spec(self.book, spec, self.shell.user_ns if self.shell else None)

    def _reset_session(self, spec: SessionResetSpec) -> None:
        if spec.name not in self.sessions:
            known = list(self.sessions)
            listing = (
                f" Sessions: {', '.join(known)}." if known else " No session has been started."
            )
            raise UnknownSessionError(
                f"No session named {spec.name!r}.{did_you_mean(spec.name, known)}{listing}"
            )
        del self.sessions[spec.name]
        print(f"session {spec.name!r} reset")

    @staticmethod
    def _ensure_running(server: Any) -> None:
        """Restart an idle-stopped server (Server.http() does that) or say why it cannot serve."""
        http = getattr(server, "http", None)
        if not callable(http):
            return
        from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError

        try:
            http()
        except ServerStoppedError as exc:
            name = getattr(server, "name", "")
            server_ops.show_folded_log(str(name), exc.log_tail)
            raise ServerRequestError(
                f"{exc.summary}. Start it again with %sgl restart {name}, "
                "or a new one with %sgl launch."
            ) from None
        except SglNotebookError as exc:
            raise ServerRequestError(f"{exc}. Or start a new one with %sgl launch.") from None

    def _set_frontend_backend(self, server: Any) -> None:
        """Make the server sglang's default backend too, when the frontend language is installed."""
        if importlib.util.find_spec("sglang") is None:
            return
        try:
            import sglang

            backend_factory = getattr(server, "backend", None)
            if callable(backend_factory):
                backend = backend_factory()
            else:
                backend = sglang.RuntimeEndpoint(
                    str(server.url), api_key=getattr(server, "api_key", None)
                )
            sglang.set_default_backend(backend)
            from sgl_notebook.display.program_render import track_fork_positions

            track_fork_positions()
        except Exception as exc:  # noqa: BLE001 - the magics work without the frontend language
            warnings.warn(f"could not set sglang's default backend: {exc}", stacklevel=2)


SglMagics.sgl_line.__doc__ = (SglMagics.sgl_line.__doc__ or "") + "\n" + line_help()
