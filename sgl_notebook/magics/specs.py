"""Parse first, then act: a ``%sgl`` line or a ``%%sgl`` cell becomes a frozen dataclass here.

Pure functions (no server, no namespace). The ``%%sgl`` options are declared with IPython's
``magic_arguments`` (see :data:`cell_magic_arguments`) so ``%%sgl?`` documents them; ``%sgl``
subcommands each have an argparse parser whose help is put into ``%sgl?``.

>>> parse_cell("--max-tokens 8 -o answer", "Hi").max_tokens
8
>>> spec = parse_line("launch HuggingFaceTB/SmolLM2-135M-Instruct --name small -- --tp 2")
>>> spec.model, spec.name, spec.extra_args
('HuggingFaceTB/SmolLM2-135M-Instruct', 'small', ('--tp', '2'))
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from IPython.core import magic_arguments
from IPython.core.magic_arguments import MagicArgumentParser

from sgl_notebook.magics.bench_magic import add_bench_parser, bench_spec
from sgl_notebook.magics.errors import (
    SglUsageError,
    UnknownOptionError,
    UnknownSubcommandError,
    did_you_mean,
)
from sgl_notebook.magics.router_magic import RouterSpec

__all__ = [
    "CellSpec",
    "ConnectSpec",
    "FlushSpec",
    "HelpSpec",
    "InfoSpec",
    "LaunchSpec",
    "ListSpec",
    "LogsSpec",
    "RestartSpec",
    "SUBCOMMANDS",
    "SessionResetSpec",
    "StatsSpec",
    "StopSpec",
    "UseSpec",
    "cell_magic_arguments",
    "command_help",
    "line_help",
    "parse_cell",
    "parse_line",
]

MODES = ("chat", "complete", "generate")
LAUNCH_ENGINES = ("auto", "sglang", "vllm", "cpu")
HELP_WORDS = ("help", "--help", "-h")
# IPython's magic_arguments is untyped; these aliases keep the declarations below type-checked
_magic_arguments: Callable[..., Any] = magic_arguments.magic_arguments
_argument: Callable[..., Any] = magic_arguments.argument


class SglArgumentParser(MagicArgumentParser):
    """argparse that raises UsageError subclasses (with "did you mean") instead of exiting."""

    def error(self, message: str) -> NoReturn:
        match = re.search(r"unrecognized arguments: (\S+)", message)
        if match:
            word = match.group(1)
            options = [o for a in self._actions for o in a.option_strings]
            raise UnknownOptionError(
                f"{self.prog}: unknown option {word}.{did_you_mean(word, options)} "
                f"See {self.prog}? for the options."
            )
        raise SglUsageError(f"{self.prog}: {message}. See {self.prog}? for the options.")


# ------------------------------------------------------------------ %%sgl


@dataclass(frozen=True)
class CellSpec:
    """Everything a ``%%sgl`` cell asks for. None means "use the configured default"."""

    prompt: str
    server: str | None = None
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    regex: str | None = None
    json_schema: str | None = None
    choices: tuple[str, ...] = ()
    session: str | None = None
    n: int = 1
    mode: str = "chat"
    output: str | None = None
    stream: bool | None = None
    logprobs: bool = False

    @property
    def constraint_regex(self) -> str | None:
        """``--choices a,b`` as the regex ``(a|b)``; else ``--regex``."""
        if self.choices:
            return "(" + "|".join(re.escape(c) for c in self.choices) + ")"
        return self.regex


F = TypeVar("F", bound=Callable[..., Any])


def cell_magic_arguments(func: F) -> F:
    """Declare the ``%%sgl`` options on ``func`` (IPython's magic_arguments)."""
    decorators = [
        _magic_arguments(),
        _argument("--server", "-s", help="server name (default: the current server)"),
        _argument("--system", help="system prompt"),
        _argument(
            "--max-tokens", type=int, help="most tokens to generate (default: SglMagics.max_tokens)"
        ),
        _argument(
            "--temperature",
            "-t",
            type=float,
            help="sampling temperature (default: SglMagics.temperature)",
        ),
        _argument("--top-p", type=float, help="nucleus sampling probability mass"),
        _argument("--stop", action="append", default=[], help="stop string (repeatable)"),
        _argument("--regex", help="constrain the answer to this regular expression"),
        _argument(
            "--json-schema",
            help="constrain to a JSON schema: inline JSON, or a variable holding a dict, "
            "a JSON string or a pydantic model",
        ),
        _argument("--choices", help="constrain to one of these comma-separated choices"),
        _argument("--session", help="keep a named multi-turn conversation"),
        _argument("--n", "-n", type=int, default=1, help="number of samples (shown side by side)"),
        _argument(
            "--mode",
            default="chat",
            help="chat (default), complete (/v1/completions) or generate (native /generate)",
        ),
        _argument(
            "-o", "--output", help="store the result (SglResult; a list with --n) in this variable"
        ),
        _argument(
            "--no-stream",
            action="store_true",
            help="wait for the whole answer instead of streaming",
        ),
        _argument(
            "--logprobs",
            action="store_true",
            help="colour tokens by probability, top alternatives on hover",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    # the generated usage names the Python function; people type %%sgl
    func.__doc__ = (func.__doc__ or "").replace(f"%{func.__name__} ", "%%sgl ")
    func.parser.__class__ = SglArgumentParser  # type: ignore[attr-defined]  # our error()
    func.parser.prog = "%%sgl"  # type: ignore[attr-defined]
    func.parser.allow_abbrev = False  # type: ignore[attr-defined]  # typos get "did you mean"
    return func


@cell_magic_arguments
def _cell_options(line: str, cell: str) -> None:  # pragma: no cover - holds the parser only
    """%%sgl options."""


# What Python's re reports for patterns every regex engine rejects; others ("bad escape \\p")
# may be fine for the server's grammar engine, which then decides.
_REGEX_SYNTAX_ERRORS = (
    "missing ),", "unbalanced parenthesis", "unterminated character set", "nothing to repeat",
    "multiple repeat", "bad character range", "min repeat greater than max repeat",
    "unterminated", "missing",
)


def check_regex(pattern: str) -> None:
    """Refuse a ``--regex`` no engine can compile, before it goes to the server.

    >>> check_regex("[0-9]{3}")
    >>> try:
    ...     check_regex("[0-9")
    ... except SglUsageError as error:
    ...     print(str(error).split(": ", 1)[1])
    unterminated character set at position 0 (the "[" has no closing "]").
    """
    if not pattern:
        raise SglUsageError("--regex is empty: give a pattern, e.g. --regex '[0-9]{3}'.")
    try:
        re.compile(pattern)
    except re.error as exc:
        message = str(exc.msg)
        if not message.startswith(_REGEX_SYNTAX_ERRORS):
            return  # Python's dialect only: let the server's grammar engine judge it
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        hint = _REGEX_HINTS.get(message.split(",")[0], "")
        raise SglUsageError(
            f"--regex {pattern!r} is not a valid regular expression: {message}{where}{hint}."
        ) from None


_REGEX_HINTS = {
    "unterminated character set": ' (the "[" has no closing "]")',
    "missing )": ' (a "(" has no closing ")")',
    "unbalanced parenthesis": ' (a ")" has no opening "(")',
    "nothing to repeat": " (a quantifier such as * + ? {n} needs something before it)",
}


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise SglUsageError(f"Cannot split the magic line ({exc}); check the quotes.") from None


def parse_cell(line: str, cell: str) -> CellSpec:
    """``%%sgl`` line + cell body -> :class:`CellSpec` (validated, not yet templated)."""
    args = _cell_options.parser.parse_args(_split(line))  # type: ignore[attr-defined]
    if args.mode not in MODES:
        raise SglUsageError(
            f"--mode {args.mode!r} is not one of {', '.join(MODES)}."
            + did_you_mean(args.mode, MODES)
        )
    constraints = [name for name in ("regex", "json_schema", "choices") if getattr(args, name)]
    if len(constraints) > 1:
        flags = " and ".join("--" + c.replace("_", "-") for c in constraints)
        raise SglUsageError(f"{flags} cannot be combined: pick one constraint.")
    if args.n < 1:
        raise SglUsageError(f"--n must be at least 1, got {args.n}.")
    if args.max_tokens is not None and args.max_tokens < 0:
        raise SglUsageError(f"--max-tokens must be >= 0, got {args.max_tokens}.")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise SglUsageError(f"--top-p must be in (0, 1], got {args.top_p}.")
    if args.session and args.mode != "chat":
        raise SglUsageError("--session keeps a chat conversation: drop --mode or use --mode chat.")
    if args.output is not None and not args.output.isidentifier():
        raise SglUsageError(f"-o {args.output!r} is not a valid Python variable name.")
    choices = tuple(c.strip() for c in args.choices.split(",") if c.strip()) if args.choices else ()
    if args.choices is not None and not choices:
        raise SglUsageError("--choices needs at least one choice, e.g. --choices yes,no.")
    twice = sorted({c for c in choices if choices.count(c) > 1})
    if twice:
        raise SglUsageError(
            f"--choices lists {', '.join(map(repr, twice))} more than once: give each choice once."
        )
    if args.regex is not None:
        check_regex(args.regex)
    prompt = cell.strip("\n")
    if not prompt.strip():
        raise SglUsageError("The cell is empty: write the prompt below the %%sgl line.")
    return CellSpec(
        prompt=prompt,
        server=args.server,
        system=args.system,
        max_tokens=args.max_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        stop=tuple(args.stop),
        regex=args.regex,
        json_schema=args.json_schema,
        choices=choices,
        session=args.session,
        n=args.n,
        mode=args.mode,
        output=args.output,
        stream=False if args.no_stream else None,
        logprobs=args.logprobs,
    )


# ------------------------------------------------------------------- %sgl


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


def _parser(command: str, description: str) -> SglArgumentParser:
    parser = SglArgumentParser(  # type: ignore[no-untyped-call]
        prog=f"%sgl {command}", description=description, add_help=False
    )
    parser.allow_abbrev = False  # typos get "did you mean", not a silent abbreviation
    return parser


def _build_parsers() -> dict[str, SglArgumentParser]:
    p: dict[str, SglArgumentParser] = {}
    launch = p["launch"] = _parser(
        "launch", "Start a server (SGLang on a GPU, else the CPU engine) and make it current."
    )
    launch.add_argument(
        "model", nargs="?", help="model path or hub id (default: the engine's default model)"
    )
    launch.add_argument("--engine", help="auto (default), sglang, vllm or cpu")
    launch.add_argument("--name", help="a name to refer to the server by")
    launch.add_argument("--python", help="the python that has SGLang/vLLM installed")
    launch.add_argument("--api-key", help="require this API key ('auto' makes one up)")
    launch.add_argument("--idle-timeout", type=float, help="stop after this many idle seconds")
    launch.add_argument("--replicas", type=int, help="N workers behind SGLang's router")
    launch.add_argument("--router-policy", help="cache_aware (default), round_robin, "
                        "power_of_two or random")
    router = p["router"] = _parser(
        "router", "SGLang's router in front of running servers (names or URLs)."
    )
    router.add_argument("targets", nargs="+", help="server names or http(s) URLs")
    router.add_argument("--policy", default="cache_aware", help="cache_aware (default), "
                        "round_robin, power_of_two or random")
    router.add_argument("--name")
    router.add_argument("--api-key", help="the workers' API key")
    restart = p["restart"] = _parser(
        "restart", "Start a stopped (or exited) server again with the same settings."
    )
    restart.add_argument("name", nargs="?", help="server name (default: the current one)")
    stop = p["stop"] = _parser("stop", "Stop servers (default: the current one).")
    stop.add_argument("names", nargs="*", help="server names")
    stop.add_argument("--all", action="store_true", help="stop every server this kernel started")
    stop.add_argument(
        "--save-log", metavar="PATH", help="copy the server's whole log to PATH before it goes"
    )
    p["list"] = _parser("list", "Table of the servers this kernel knows.")
    use = p["use"] = _parser(
        "use", "Make a server the current one (also the frontend language's default backend)."
    )
    use.add_argument("name")
    connect = p["connect"] = _parser("connect", "Use a server that is already running somewhere.")
    connect.add_argument("url")
    connect.add_argument("--api-key")
    connect.add_argument("--name")
    logs = p["logs"] = _parser("logs", "The last lines of a server's log.")
    logs.add_argument("name", nargs="?")
    logs.add_argument("-n", type=int, default=40, help="number of lines (default 40)")
    stats = p["stats"] = _parser(
        "stats", "Live dashboard: throughput, requests, KV usage, cache hits."
    )
    stats.add_argument("names", nargs="*")
    p["bench"] = add_bench_parser(
        _parser("bench", "Put load on a server with SGLang's bench_serving, with a live view.")
    )
    info = p["info"] = _parser("info", "Model and server information.")
    info.add_argument("name", nargs="?")
    flush = p["flush"] = _parser("flush", "Flush the server's prefix cache.")
    flush.add_argument("name", nargs="?")
    session = p["session"] = _parser(
        "session", "session reset NAME: forget a %%sgl --session conversation."
    )
    session.add_argument("action", help="reset")
    session.add_argument("name")
    return p


_PARSERS = _build_parsers()
SUBCOMMANDS = tuple(_PARSERS)


def line_help() -> str:
    """Usage of every subcommand, for ``%sgl?``."""
    # MagicArgumentParser doubles "%" in usage lines (it expects printf-style escaping)
    return "\n".join(p.format_help().replace("%%sgl", "%sgl") for p in _PARSERS.values())


def command_help(command: str) -> str:
    """Usage of one subcommand (``%sgl launch --help``)."""
    return _PARSERS[command].format_help().replace("%%sgl", "%sgl")


def _group_options(replicas: int | None, policy: str | None, command: str = "launch",
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


def parse_line(line: str) -> Any:
    """``%sgl`` line -> one of the ``*Spec`` dataclasses."""
    words = _split(line)
    if not words:
        raise SglUsageError(
            f"%sgl needs a subcommand: one of {', '.join(SUBCOMMANDS)}. See %sgl help."
        )
    command, rest = words[0], words[1:]
    if command in HELP_WORDS:
        return HelpSpec(rest[0] if rest and rest[0] in _PARSERS else None)
    if command in _PARSERS and any(word in ("--help", "-h") for word in rest):
        return HelpSpec(command)
    parser = _PARSERS.get(command)
    if parser is None:
        raise UnknownSubcommandError(
            f"%sgl has no subcommand {command!r}.{did_you_mean(command, SUBCOMMANDS)} "
            f"Subcommands: {', '.join(SUBCOMMANDS)}."
        )
    extra: list[str] = []
    if command == "launch" and "--" in rest:
        cut = rest.index("--")
        rest, extra = rest[:cut], rest[cut + 1 :]
    args: argparse.Namespace = parser.parse_args(rest)
    if command == "launch":
        if args.engine is not None and args.engine not in LAUNCH_ENGINES:
            raise SglUsageError(
                f"%sgl launch: --engine {args.engine!r} is not one of "
                f"{', '.join(LAUNCH_ENGINES)}.{did_you_mean(args.engine, LAUNCH_ENGINES)}"
                " auto picks SGLang when a GPU and SGLang are here, else the CPU engine."
            )
        return LaunchSpec(
            args.model,
            args.engine,
            args.name,
            args.python,
            args.api_key,
            args.idle_timeout,
            tuple(extra),
            *_group_options(args.replicas, args.router_policy),
        )
    if command == "router":
        _group_options(len(args.targets), args.policy, command="router", flag="--policy")
        return RouterSpec(tuple(t.rstrip("/") for t in args.targets), args.policy, args.name,
                          args.api_key)
    if command == "stop":
        if args.all and args.names:
            raise SglUsageError("%sgl stop: give names or --all, not both.")
        if args.save_log and (args.all or len(args.names) > 1):
            raise SglUsageError("%sgl stop: --save-log takes one server (one log per file).")
        return StopSpec(tuple(args.names), args.all, args.save_log)
    if command == "list":
        return ListSpec()
    if command == "restart":
        return RestartSpec(args.name)
    if command == "use":
        return UseSpec(args.name)
    if command == "connect":
        if not re.match(r"^https?://", args.url):
            raise SglUsageError(
                f"%sgl connect: {args.url!r} is not an http(s) URL, e.g. http://127.0.0.1:30000."
            )
        return ConnectSpec(args.url.rstrip("/"), args.api_key, args.name)
    if command == "logs":
        if args.n < 1:
            raise SglUsageError(f"%sgl logs: -n must be at least 1, got {args.n}.")
        return LogsSpec(args.name, args.n)
    if command == "stats":
        return StatsSpec(tuple(args.names))
    if command == "bench":
        return bench_spec(args)
    if command == "info":
        return InfoSpec(args.name)
    if command == "flush":
        return FlushSpec(args.name)
    if args.action != "reset":
        raise SglUsageError(
            f"%sgl session {args.action}: the only action is 'reset', "
            "e.g. %sgl session reset chat1."
        )
    return SessionResetSpec(args.name)
