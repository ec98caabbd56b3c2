"""``launch``, ``connect``, ``servers`` and ``router``: the public entry points (re-exported by
the package). ``launch`` checks its arguments and hands over: one server to ``Server.start()``,
several behind SGLang's router to :mod:`sgl_notebook.server.router_launch`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from sgl_notebook.protocol.phases import PhaseEvent
from sgl_notebook.server.api_keys import generate_api_key, resolve_api_key
from sgl_notebook.server.launcher import LaunchConfig
from sgl_notebook.server.live import servers
from sgl_notebook.server.remote import connect
from sgl_notebook.server.router_launch import launch_replicas, router
from sgl_notebook.server.server import Server

__all__ = ["launch", "connect", "servers", "router", "generate_api_key"]


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
    _check_launch_args(timeout, idle_timeout, extra_args)
    api_key = resolve_api_key(api_key)
    if replicas is not None or router_policy is not None:
        if idle_timeout is not None:
            raise ValueError(
                "idle_timeout does not apply to replicas: the router sends requests to the "
                "workers directly, so they cannot restart on the next request"
            )
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
    # the stats exist before the process does, so every line (start-up and warm-up too) counts
    server = Server.from_config(config, idle_timeout=idle_timeout)
    return server.start(on_phase=on_phase)


def _check_launch_args(timeout: float, idle_timeout: float | None, extra_args: Any) -> None:
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    if idle_timeout is not None and idle_timeout <= 0:
        raise ValueError(f"idle_timeout must be positive seconds or None, got {idle_timeout}")
    if isinstance(extra_args, str):
        raise TypeError("extra_args must be a list of strings, e.g. ['--log-level', 'warning']")
