"""``launch``, ``connect`` and ``servers``: the public entry points (re-exported by the package)."""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sgl_notebook.protocol.phases import PhaseEvent
from sgl_notebook.server.errors import SglNotebookError
from sgl_notebook.server.launcher import LaunchConfig, start_server
from sgl_notebook.server.registry import ServerRecord, write_record
from sgl_notebook.server.server import Server, make_stats

__all__ = ["launch", "connect", "servers", "router"]

_lock = threading.Lock()
_servers: list[Server] = []


def remember(server: Server) -> None:
    with _lock:
        if server not in _servers:
            _servers.append(server)


def forget(server: Server) -> None:
    with _lock, contextlib.suppress(ValueError):
        _servers.remove(server)


def servers() -> list[Server]:
    """The servers this process launched or connected to and has not stopped."""
    with _lock:
        return list(_servers)


def generate_api_key() -> str:
    """A fresh random key that never starts with "-" (it is passed on a command line)."""
    return "sgl-" + secrets.token_urlsafe(24)


def launch(
    model_path: str | None = None,
    *,
    engine: str = "auto",
    name: str | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    api_key: str | None = None,
    python: str | None = None,
    timeout: float = 600,
    idle_timeout: float | None = None,
    extra_args: Sequence[str] = (),
    on_phase: Callable[[PhaseEvent], None] | None = None,
    replicas: int | None = None,
    router_policy: str | None = None,
    **server_args: Any,
) -> Server:
    """Start a server and return it once it is ready.

    ``engine``: "sglang", "vllm", "cpu" or "auto" (sglang when it can run here, else cpu; the
    reason is in ``server.engine_reason``). ``python``: the interpreter that runs the server.
    ``api_key="auto"`` makes one up. ``**server_args`` become flags
    (``mem_fraction_static=0.8`` -> ``--mem-fraction-static 0.8``; True -> a bare flag).
    ``idle_timeout``: stop after that many seconds without requests; the next request through
    the returned ``Server`` starts it again. Raises a ``LaunchError`` subclass (with the log
    tail) when it cannot start; nothing is left running then.
    ``replicas=N`` (and/or ``router_policy=``: cache_aware, round_robin, power_of_two, random)
    starts N such servers behind SGLang's router and returns a ``Router`` (see ``router()``).

    >>> server = launch()                                # doctest: +SKIP
    >>> server.chat("Hi!").text                          # doctest: +SKIP
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    if idle_timeout is not None and idle_timeout <= 0:
        raise ValueError(f"idle_timeout must be positive seconds or None, got {idle_timeout}")
    if isinstance(extra_args, str):
        raise TypeError("extra_args must be a list of strings, e.g. ['--log-level', 'warning']")
    if api_key == "auto":
        api_key = generate_api_key()
    if replicas is not None or router_policy is not None:
        import functools

        if idle_timeout is not None:
            raise ValueError(
                "idle_timeout does not apply to replicas: the router sends requests to the "
                "workers directly, so they cannot restart on the next request"
            )

        from sgl_notebook.server.router_launch import launch_replicas

        one = functools.partial(
            launch, engine=engine, host=host, api_key=api_key, python=python, timeout=timeout,
            idle_timeout=idle_timeout, extra_args=extra_args, **server_args,
        )
        return launch_replicas(
            model_path, replicas=1 if replicas is None else replicas, router_policy=router_policy,
            name=name, host=host, api_key=api_key, timeout=timeout, on_phase=on_phase,
            launch_one=one,
        )
    config = LaunchConfig(
        model_path=model_path, engine=engine, name=name, port=port, host=host, api_key=api_key,
        python=python, timeout=float(timeout), extra_args=tuple(extra_args),
        server_args=dict(server_args),
    )
    holder: list[Server] = []

    def forward(event: PhaseEvent) -> None:
        if on_phase is not None:
            on_phase(event)
        if holder:
            holder[0]._on_phase(event)

    # stats exist before the process does, so every line (start-up and warm-up too) reaches them
    stats, _ = make_stats(engine)
    feed = stats.feed if stats is not None else None
    process = start_server(config, on_phase=forward, on_line=feed)
    server = Server(process.record, process=process, config=config, idle_timeout=idle_timeout,
                    stats=stats)
    holder.append(server)
    remember(server)
    return server


def connect(url: str, *, api_key: str | None = None, name: str | None = None) -> Server:
    """A ``Server`` for a server someone else runs (a remote SGLang, vLLM, ...).

    Checks that it answers; registers it so ``sgl-notebook ps`` and the sidebar list it.
    """
    import httpx

    from sgl_notebook.client import ServerHTTPError, SglClient

    if not url.startswith(("http://", "https://")):
        raise ValueError(f"connect() needs an http(s) URL such as http://host:30000, got {url!r}")
    url = url.rstrip("/")
    probe = SglClient(url, api_key=api_key, timeout=10.0)
    model = ""
    try:
        try:
            model = str(probe.model_info().get("model_path", ""))
        except ServerHTTPError as error:
            if error.status == 401:
                raise SglNotebookError(
                    f"{url} rejected the API key (HTTP 401); pass api_key= the server's key"
                ) from None
            models = probe.models()
            model = models[0] if models else ""
    except httpx.HTTPError as error:
        raise SglNotebookError(f"cannot reach {url}: {error}; is the server running?") from None
    finally:
        probe.close()
    parsed = httpx.URL(url)
    record = ServerRecord(
        id=uuid.uuid4().hex[:12], name=name or f"{parsed.host}:{parsed.port or 80}",
        engine="remote", model=model, url=url, host=parsed.host, port=parsed.port or 80,
        pid=None, pgid=None, create_time=None, started_at=time.time(), log_path=None,
        owner_pid=None, owner_kernel_id=None, api_key=api_key, managed=False,
        connected_by_pid=os.getpid(),
    )
    write_record(record)
    server = Server(record)
    remember(server)
    return server


def router(servers: Sequence[Any], **options: Any) -> Server:
    """SGLang's router in front of servers that already run (``Server`` s or URLs); the options
    (``policy=``, ``name=``, ...) are :func:`sgl_notebook.server.router_launch.router`'s."""
    from sgl_notebook.server.router_launch import router as front

    return front(servers, **options)


@atexit.register
def _stop_all_at_exit() -> None:
    # the watchdogs cover crashes and SIGKILL; this is the quick path for a normal exit
    for server in servers():
        with contextlib.suppress(Exception):
            server.stop(timeout=5.0)
