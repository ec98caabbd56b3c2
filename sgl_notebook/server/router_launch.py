"""Starting a router group: N workers in parallel then the router (``launch(replicas=N)``), or
the router in front of servers that already run (``router([...])``). A worker that fails stops
the others, and the error names it with its log tail; an interrupt leaves nothing running.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.server import live
from sgl_notebook.server.errors import LaunchError, SglNotebookError
from sgl_notebook.server.remote import connect
from sgl_notebook.server.router_group import MemberPhase, Router, _link, stop_all
from sgl_notebook.server.router_process import check_policy, check_router_installed, start_router
from sgl_notebook.server.server import Server

__all__ = ["launch_replicas", "router"]


def _start_router_for(workers: Sequence[Server], owned: Sequence[Server], *, policy: str,
                      name: str | None, model: str, start: dict[str, Any],
                      on_phase: Callable[[Any], None] | None) -> Router:
    def tagged(event: PhaseEvent) -> None:
        if on_phase is not None:
            on_phase(MemberPhase.of("router", event))
        if holder:
            holder[0]._on_phase(event)

    holder: list[Router] = []
    try:
        process = start_router([w.url for w in workers], policy=policy, name=name, model=model,
                               on_phase=tagged, **start)
    except BaseException as error:
        if on_phase is not None:
            with contextlib.suppress(Exception):
                first = (str(error) or type(error).__name__).splitlines()[0]
                on_phase(MemberPhase("router", LaunchPhase.FAILED, first))
        raise
    process.record = _link(process.record, workers, owned)
    routed = Router(process.record, process=process, workers=workers, owned=owned,
                    policy=policy, start={"policy": policy, "model": model, **start})
    holder.append(routed)
    live.remember(routed)
    return routed


def launch_replicas(model: str | None, *, replicas: int, router_policy: str | None,
                    name: str | None, host: str, api_key: str | None,
                    timeout: float, on_phase: Callable[[Any], None] | None,
                    launch_one: Callable[..., Server]) -> Router:
    """``replicas`` workers from ``launch_one(model, name=..., on_phase=...)`` and a router."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(
            f"replicas must be a whole number of workers, at least 1; got {replicas!r}"
        )
    policy = router_policy or "cache_aware"
    check_policy(policy, replicas)
    check_router_installed(_own_python())  # the router runs in the toolkit's environment
    from sgl_notebook.server.launcher import _claim_name, _release_name

    base = _claim_name(name, model, "cpu")  # held until the router takes it
    try:
        workers = _launch_workers(model, replicas, base, on_phase, launch_one)
    finally:
        _release_name(base)
    start = {"host": host, "api_key": api_key, "timeout": timeout}
    try:
        return _start_router_for(workers, workers, policy=policy, name=base,
                                 model=workers[0].model, start=start, on_phase=on_phase)
    except BaseException:
        stop_all(workers, 5.0)
        raise


def _own_python() -> str:
    import sys

    return sys.executable


def _launch_workers(model: str | None, replicas: int, base: str,
                    on_phase: Callable[[Any], None] | None,
                    launch_one: Callable[..., Server]) -> list[Server]:
    names = [f"{base}-w{i + 1}" for i in range(replicas)]
    started: dict[int, Server] = {}
    failures: dict[int, BaseException] = {}

    def one(index: int) -> None:
        member = names[index]

        def tagged(event: PhaseEvent) -> None:
            if on_phase is not None:
                on_phase(MemberPhase.of(member, event))

        try:
            started[index] = launch_one(model, name=member, on_phase=tagged)
        except BaseException as error:  # noqa: BLE001 -- reported below, with the worker's name
            failures[index] = error

    threads = [threading.Thread(target=one, args=(i,), name=f"sgl-launch-{names[i]}",
                                daemon=True) for i in range(replicas)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short joins: a KeyboardInterrupt gets through
    except BaseException:
        _cleanup_after_interrupt(threads, started)
        raise
    if failures:
        stop_all(list(started.values()), 5.0)
        raise _worker_failure(names, failures)
    return [started[i] for i in range(replicas)]


def _cleanup_after_interrupt(threads: Sequence[threading.Thread],
                             started: dict[int, Server]) -> None:
    stop_all(list(started.values()), 5.0)
    for thread in threads:
        thread.join(30)  # each launcher stops its own half-started server on the way out
    stop_all([s for s in started.values() if s in live.servers()], 5.0)


def _worker_failure(names: Sequence[str], failures: dict[int, BaseException]) -> BaseException:
    index = min(failures)
    error = failures[index]
    if not isinstance(error, LaunchError):
        return error
    others = f" ({len(failures) - 1} more workers failed too)" if len(failures) > 1 else ""
    failed = type(error)(f"worker {names[index]} failed: {error.reason}{others}; "
                         "every worker started so far was stopped",
                         error.log_tail, hint=error.hint)
    return failed


def router(servers: Sequence[Server | str], *, policy: str = "cache_aware",
           name: str | None = None, host: str = "127.0.0.1", port: int | None = None,
           api_key: str | None = None, timeout: float = 120.0,
           on_phase: Callable[[Any], None] | None = None) -> Router:
    """SGLang's router in front of servers that already run: ``Server`` s (launched or
    connected) or URLs (connected here, e.g. workers on other machines). Stopping the router
    never stops them. ``api_key``: the workers' key (default: the one they share, if any).

    >>> r = router([server_a, "http://10.0.0.7:30000"], policy="round_robin")  # doctest: +SKIP
    """
    if isinstance(servers, (str, Server)) or not servers:
        raise ValueError("router() takes a list of servers or URLs, e.g. router([a, b])")
    check_policy(policy, len(servers))
    check_router_installed(_own_python())
    workers: list[Server] = []
    connected: list[Server] = []
    try:
        for item in servers:
            if isinstance(item, Server):
                if item.managed and not item.is_alive():
                    raise SglNotebookError(f"server {item.name!r} is not running")
                workers.append(item)
            elif isinstance(item, str):
                server = connect(item, api_key=api_key)
                connected.append(server)
                workers.append(server)
            else:
                raise TypeError(f"router() takes Server objects or URLs, not {type(item).__name__}")
        keys = {w.api_key for w in workers if w.api_key}
        if api_key is None and len(keys) == 1:
            api_key = keys.pop()  # the workers' own key: the router passes it on
        start = {"host": host, "port": port, "api_key": api_key, "timeout": timeout}
        return _start_router_for(workers, connected, policy=policy, name=name,
                                 model=workers[0].model, start=start, on_phase=on_phase)
    except BaseException:
        stop_all(connected, 5.0)  # connected ones are only forgotten
        raise
