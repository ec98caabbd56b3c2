"""``%sgl`` subcommands, parse side: each one's arguments and the frozen spec they become.

Pure functions (no server, no namespace); :mod:`subcommands` puts them in one table with the
handler of each. ``router`` and ``bench`` keep theirs beside their handlers
(:mod:`router_magic`, :mod:`bench_magic`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sgl_notebook.magics.errors import SglUsageError, did_you_mean
from sgl_notebook.magics.router_magic import RouterSpec

__all__ = [
    "ConnectSpec",
    "FlushSpec",
    "HelpSpec",
    "InfoSpec",
    "LaunchSpec",
    "ListSpec",
    "LogsSpec",
    "RestartSpec",
    "SessionResetSpec",
    "StatsSpec",
    "StopSpec",
    "UseSpec",
]

LAUNCH_ENGINES = ("auto", "sglang", "vllm", "cpu")
_POLICIES_HELP = "cache_aware (default), round_robin, power_of_two or random"


@dataclass(frozen=True)
class LaunchSpec:
    model: str | None = None
    engine: str | None = None
    name: str | None = None
    python: str | None = None
    api_key: str | None = None
    idle_timeout: float | None = None
    extra_args: tuple[str, ...] = ()
    replicas: int | None = None  # workers behind SGLang's router
    router_policy: str | None = None


@dataclass(frozen=True)
class RestartSpec:
    name: str | None = None


@dataclass(frozen=True)
class HelpSpec:
    """``%sgl help`` / ``%sgl --help`` (``command``: ``%sgl launch --help`` asks about one)."""

    command: str | None = None


@dataclass(frozen=True)
class StopSpec:
    names: tuple[str, ...] = ()
    all: bool = False
    save_log: str | None = None


@dataclass(frozen=True)
class ListSpec:
    pass


@dataclass(frozen=True)
class UseSpec:
    name: str


@dataclass(frozen=True)
class ConnectSpec:
    url: str
    api_key: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class LogsSpec:
    name: str | None = None
    n: int = 40


@dataclass(frozen=True)
class StatsSpec:
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class InfoSpec:
    name: str | None = None


@dataclass(frozen=True)
class FlushSpec:
    name: str | None = None


@dataclass(frozen=True)
class SessionResetSpec:
    name: str


Declare = Callable[[argparse.ArgumentParser], Any]


def arguments(*declared: tuple[tuple[str, ...], dict[str, Any]]) -> Declare:
    """A declaration of positional arguments and options, as ``(flags, add_argument kwargs)``."""

    def declare(parser: argparse.ArgumentParser) -> None:
        for flags, options in declared:
            parser.add_argument(*flags, **options)

    return declare


def arg(*flags: str, **options: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, options


NAME = arg("name", nargs="?")
NAME_OR_CURRENT = arg("name", nargs="?", help="server name (default: the current one)")

LAUNCH_ARGS = arguments(
    arg("model", nargs="?", help="model path or hub id (default: the engine's default model)"),
    arg("--engine", help="auto (default), sglang, vllm or cpu"),
    arg("--name", help="a name to refer to the server by"),
    arg("--python", help="the python that has SGLang/vLLM installed"),
    arg("--api-key", help="require this API key ('auto' makes one up)"),
    arg("--idle-timeout", type=float, help="stop after this many idle seconds"),
    arg("--replicas", type=int, help="N workers behind SGLang's router"),
    arg("--router-policy", help=_POLICIES_HELP),
)
ROUTER_ARGS = arguments(
    arg("targets", nargs="+", help="server names or http(s) URLs"),
    arg("--policy", default="cache_aware", help=_POLICIES_HELP),
    arg("--name"),
    arg("--api-key", help="the workers' API key"),
)
STOP_ARGS = arguments(
    arg("names", nargs="*", help="server names"),
    arg("--all", action="store_true", help="stop every server this kernel started"),
    arg("--save-log", metavar="PATH", help="copy the server's whole log to PATH before it goes"),
)
CONNECT_ARGS = arguments(arg("url"), arg("--api-key"), arg("--name"))
LOGS_ARGS = arguments(NAME, arg("-n", type=int, default=40, help="number of lines (default 40)"))
SESSION_ARGS = arguments(arg("action", help="reset"), arg("name"))


def group_options(replicas: int | None, policy: str | None, command: str = "launch",
                  flag: str = "--router-policy") -> tuple[int | None, str | None]:
    """Check ``--replicas`` and the router policy (one-line errors that list the choices)."""
    from sgl_notebook.server.router_process import ROUTER_POLICIES

    if replicas is not None and replicas < 1:
        raise SglUsageError(f"%sgl {command}: --replicas must be at least 1, got {replicas}.")
    if policy is not None and policy not in ROUTER_POLICIES:
        raise SglUsageError(
            f"%sgl {command}: {flag} {policy!r} is not one of {', '.join(ROUTER_POLICIES)}."
            f"{did_you_mean(policy, ROUTER_POLICIES)}"
        )
    if policy == "power_of_two" and (replicas or 1) < 2:
        raise SglUsageError(f"%sgl {command}: power_of_two needs at least 2 workers.")
    return replicas, policy


def launch_spec(args: argparse.Namespace) -> LaunchSpec:
    if args.engine is not None and args.engine not in LAUNCH_ENGINES:
        raise SglUsageError(
            f"%sgl launch: --engine {args.engine!r} is not one of "
            f"{', '.join(LAUNCH_ENGINES)}.{did_you_mean(args.engine, LAUNCH_ENGINES)}"
            " auto picks SGLang when a GPU and SGLang are here, else the CPU engine."
        )
    replicas, policy = group_options(args.replicas, args.router_policy)
    return LaunchSpec(args.model, args.engine, args.name, args.python, args.api_key,
                      args.idle_timeout, tuple(args.extra_args), replicas, policy)


def router_spec(args: argparse.Namespace) -> RouterSpec:
    group_options(len(args.targets), args.policy, command="router", flag="--policy")
    targets = tuple(t.rstrip("/") for t in args.targets)
    return RouterSpec(targets, args.policy, args.name, args.api_key)


def stop_spec(args: argparse.Namespace) -> StopSpec:
    if args.all and args.names:
        raise SglUsageError("%sgl stop: give names or --all, not both.")
    if args.save_log and (args.all or len(args.names) > 1):
        raise SglUsageError("%sgl stop: --save-log takes one server (one log per file).")
    return StopSpec(tuple(args.names), args.all, args.save_log)


def connect_spec(args: argparse.Namespace) -> ConnectSpec:
    if not re.match(r"^https?://", args.url):
        raise SglUsageError(
            f"%sgl connect: {args.url!r} is not an http(s) URL, e.g. http://127.0.0.1:30000."
        )
    return ConnectSpec(args.url.rstrip("/"), args.api_key, args.name)


def logs_spec(args: argparse.Namespace) -> LogsSpec:
    if args.n < 1:
        raise SglUsageError(f"%sgl logs: -n must be at least 1, got {args.n}.")
    return LogsSpec(args.name, args.n)


def session_spec(args: argparse.Namespace) -> SessionResetSpec:
    if args.action != "reset":
        raise SglUsageError(
            f"%sgl session {args.action}: the only action is 'reset', "
            "e.g. %sgl session reset chat1."
        )
    return SessionResetSpec(args.name)
