"""``%sgl`` subcommands, act side: what each parsed spec does to this kernel's servers.

Each handler takes the :class:`~sgl_notebook.magics.core.SglMagics` instance (its book of
servers, sessions and traits) and its spec; :mod:`subcommands` pairs them with their parsers.
Servers are :class:`~sgl_notebook.server.protocols.NotebookServer` s.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from typing import TYPE_CHECKING, Any

from sgl_notebook.display.launch_view import LaunchView
from sgl_notebook.display.server_views import ServerCard, ServerTable
from sgl_notebook.display.stream_view import frontend_mode
from sgl_notebook.magics import server_ops
from sgl_notebook.magics.errors import (
    LaunchCancelledError,
    LaunchFailedError,
    ServerRequestError,
    SglUsageError,
    UnknownSessionError,
    did_you_mean,
)
from sgl_notebook.magics.line_specs import (
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
)

if TYPE_CHECKING:
    from sgl_notebook.magics.core import SglMagics
    from sgl_notebook.server.protocols import NotebookServer

__all__ = ["ensure_running", "launch_api_key", "make_current", "set_frontend_backend"]


def launch_api_key(asked: str | None) -> str | None:
    """``--api-key``: the key given, or one made up for ``auto`` (the server layer's one rule)."""
    from sgl_notebook.server.api_keys import resolve_api_key

    return resolve_api_key(asked)


def set_frontend_backend(server: NotebookServer) -> None:
    """Make the server sglang's default backend too, when the frontend language is installed."""
    import importlib.util

    if importlib.util.find_spec("sglang") is None:
        return
    try:
        import sglang

        sglang.set_default_backend(server.backend())
        from sgl_notebook.display.program_render import track_fork_positions

        track_fork_positions()
    except Exception as exc:  # noqa: BLE001 - the magics work without the frontend language
        warnings.warn(f"could not set sglang's default backend: {exc}", stacklevel=2)


def make_current(magics: SglMagics, server: NotebookServer) -> None:
    """The server becomes the current one (and the frontend language's default backend)."""
    magics.book.add(server)
    set_frontend_backend(server)


def ensure_running(server: NotebookServer) -> None:
    """Restart an idle-stopped server (``http()`` does that) or say why it cannot serve."""
    from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError

    try:
        server.http()
    except ServerStoppedError as exc:
        server_ops.show_folded_log(str(server.name), exc.log_tail)
        raise ServerRequestError(
            f"{exc.summary}. Start it again with %sgl restart {server.name}, "
            "or a new one with %sgl launch."
        ) from None
    except SglNotebookError as exc:
        raise ServerRequestError(f"{exc}. Or start a new one with %sgl launch.") from None


def launch(magics: SglMagics, spec: LaunchSpec) -> None:
    """``%sgl launch``: start a server (or a group behind the router), show it starting."""
    from sgl_notebook.magics import router_magic
    from sgl_notebook.server.engines import resolve_engine
    from sgl_notebook.server.errors import SglNotebookError

    if spec.replicas is not None or spec.router_policy is not None:
        router_magic.launch_group(magics, spec)
        return
    engine = spec.engine or magics.default_engine
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
        mode, engine=chosen.name, reason=reason, extra_args=spec.extra_args,
    )
    idle_timeout = spec.idle_timeout if spec.idle_timeout is not None else magics.idle_timeout
    kwargs: dict[str, Any] = {
        "engine": engine, "name": spec.name, "api_key": launch_api_key(spec.api_key),
        "idle_timeout": idle_timeout, "extra_args": spec.extra_args, "on_phase": view.on_phase,
    }
    if spec.python:
        kwargs["python"] = spec.python
    tail_lines = 15 if mode == "text" else 0
    server = server_ops.launch_with_view(
        view, spec.model, kwargs, subject="server", tail_lines=tail_lines
    )
    make_current(magics, server)
    view.succeeded(server)


def restart(magics: SglMagics, spec: RestartSpec) -> None:
    """``%sgl restart [NAME]``: the same server again (same settings, same port if free)."""
    from sgl_notebook.server.errors import LaunchError, SglNotebookError

    server = magics.book.get(spec.name)
    if not server.managed:
        raise SglUsageError(
            f"%sgl restart: {server.name!r} was connected by URL; restart it where it runs, "
            "then %sgl connect again."
        )
    view = LaunchView(f"restarting {server.name}", frontend_mode(), engine=server.engine)
    remove = server.on_phase(view.on_phase)
    try:
        view.start()
        server.restart()
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
        remove()
    make_current(magics, server)
    view.succeeded(server)


def show_help(magics: SglMagics, spec: HelpSpec) -> None:
    """``%sgl help`` / ``%sgl --help``: what ``%sgl?`` shows; ``%sgl launch --help``: one."""
    from sgl_notebook.magics.subcommands import command_help

    if spec.command is not None:
        print(command_help(spec.command))
        return
    print(inspect.cleandoc(type(magics).sgl_line.__doc__ or ""))


def stop(magics: SglMagics, spec: StopSpec) -> None:
    """``%sgl stop``: stop the named servers (or all, or the current one); say which."""
    from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError

    book = magics.book
    if spec.all:
        targets = book.all()
    else:
        targets = [book.get(n) for n in spec.names] if spec.names else [book.get()]
    stopped, saved = [], None
    for server in targets:
        try:
            saved = server.stop(save_log=spec.save_log)
        except ServerStoppedError as exc:  # stopped, but its log could not be copied
            book.remove(str(server.name))
            raise SglUsageError(f"%sgl stop: {exc}") from None
        except SglNotebookError as exc:  # a bad --save-log path: nothing was stopped
            raise SglUsageError(f"%sgl stop: {exc}") from None
        book.remove(str(server.name))
        stopped.append(str(server.name))
    print(f"stopped: {', '.join(stopped)}" if stopped else "no server to stop")
    if saved is not None:
        print(f"log saved to {saved} (read it back with sgl_notebook.stats.from_log)")


def list_servers(magics: SglMagics, spec: ListSpec) -> ServerTable:
    return ServerTable(magics.book.all(), magics.book.current)


def use(magics: SglMagics, spec: UseSpec) -> ServerCard:
    server = magics.book.get(spec.name)
    make_current(magics, server)
    return ServerCard(server, current=True)


def connect(magics: SglMagics, spec: ConnectSpec) -> ServerCard:
    import sgl_notebook

    try:
        server = sgl_notebook.connect(spec.url, api_key=spec.api_key, name=spec.name)
    except Exception as exc:  # noqa: BLE001 - any failure here means "cannot use that URL"
        raise SglUsageError(
            f"%sgl connect: cannot use {spec.url} ({exc}). Is the server running, and is the "
            "API key right (--api-key)?"
        ) from None
    make_current(magics, server)
    return ServerCard(server, current=True)


def logs(magics: SglMagics, spec: LogsSpec) -> server_ops.LogTail:
    return server_ops.show_logs(magics.book.get(spec.name), spec.n)


def info(magics: SglMagics, spec: InfoSpec) -> server_ops.InfoCard:
    return server_ops.server_info(magics.book.get(spec.name))


def flush(magics: SglMagics, spec: FlushSpec) -> None:
    server_ops.flush_cache(magics.book.get(spec.name))


def stats(magics: SglMagics, spec: StatsSpec) -> None:
    """``%sgl stats``: the live dashboard (a router: its workers and its request split)."""
    from sgl_notebook.server.router_group import Router

    book = magics.book
    servers = [book.get(n) for n in spec.names] if spec.names else [book.get()]
    if len(servers) == 1 and isinstance(servers[0], Router):
        from sgl_notebook.display.router_panel import router_dashboard

        magics.last_dashboard = router_dashboard(servers[0])
        return
    from sgl_notebook.display.dashboard import dashboard

    try:
        # it displays itself; keep it (not Out[n]) so `.stop()` stays reachable
        magics.last_dashboard = dashboard(*servers)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise SglUsageError(f"%sgl stats: {exc}") from None


def reset_session(magics: SglMagics, spec: SessionResetSpec) -> None:
    if spec.name not in magics.sessions:
        known = list(magics.sessions)
        listing = f" Sessions: {', '.join(known)}." if known else " No session has been started."
        raise UnknownSessionError(
            f"No session named {spec.name!r}.{did_you_mean(spec.name, known)}{listing}"
        )
    del magics.sessions[spec.name]
    print(f"session {spec.name!r} reset")
