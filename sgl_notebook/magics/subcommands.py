"""The one table of ``%sgl`` subcommands: name, help, arguments, spec and handler of each.

It drives parsing (:func:`parse_line`), dispatch (:func:`dispatch`), the help of ``%sgl?`` and
``%sgl NAME --help``, and the "did you mean" for a mistyped name.

>>> spec = parse_line("launch HuggingFaceTB/SmolLM2-135M-Instruct --name small -- --tp 2")
>>> spec.model, spec.name, spec.extra_args
('HuggingFaceTB/SmolLM2-135M-Instruct', 'small', ('--tp', '2'))
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sgl_notebook.magics import actions, line_specs
from sgl_notebook.magics.argparser import SglArgumentParser, split_line, subcommand_parser
from sgl_notebook.magics.bench_magic import add_bench_parser, bench_spec, run_bench_spec
from sgl_notebook.magics.errors import SglUsageError, UnknownSubcommandError, did_you_mean
from sgl_notebook.magics.line_specs import HelpSpec, arguments
from sgl_notebook.magics.router_magic import front_servers

if TYPE_CHECKING:
    from sgl_notebook.magics.core import SglMagics

__all__ = ["SUBCOMMANDS", "Subcommand", "command_help", "dispatch", "line_help", "parse_line"]

HELP_WORDS = ("help", "--help", "-h")


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True)
class Subcommand:
    """One ``%sgl NAME``: ``declare`` adds its arguments to its parser, ``make`` turns the
    parsed arguments into a frozen spec (or raises a one-line usage error), ``act`` does it."""

    name: str
    about: str
    declare: Callable[[argparse.ArgumentParser], Any]
    make: Callable[[argparse.Namespace], Any]
    act: Callable[[SglMagics, Any], Any]
    passthrough: bool = False  # the words after "--" go to the server (``extra_args``)

    def parser(self) -> SglArgumentParser:
        parser = subcommand_parser(self.name, self.about)
        self.declare(parser)
        return parser


def _bench(magics: SglMagics, spec: Any) -> Any:
    return run_bench_spec(magics.book, spec, magics.shell.user_ns if magics.shell else None)


_S = Subcommand
_name = arguments(line_specs.NAME)
TABLE: tuple[Subcommand, ...] = (
    _S("launch", "Start a server (SGLang on a GPU, else the CPU engine) and make it current.",
       line_specs.LAUNCH_ARGS, line_specs.launch_spec, actions.launch, passthrough=True),
    _S("router", "SGLang's router in front of running servers (names or URLs).",
       line_specs.ROUTER_ARGS, line_specs.router_spec, front_servers),
    _S("restart", "Start a stopped (or exited) server again with the same settings.",
       arguments(line_specs.NAME_OR_CURRENT), lambda a: line_specs.RestartSpec(a.name),
       actions.restart),
    _S("stop", "Stop servers (default: the current one).",
       line_specs.STOP_ARGS, line_specs.stop_spec, actions.stop),
    _S("list", "Table of the servers this kernel knows.",
       _no_arguments, lambda a: line_specs.ListSpec(), actions.list_servers),
    _S("use", "Make a server the current one (also the frontend language's default backend).",
       arguments(line_specs.arg("name")), lambda a: line_specs.UseSpec(a.name), actions.use),
    _S("connect", "Use a server that is already running somewhere.",
       line_specs.CONNECT_ARGS, line_specs.connect_spec, actions.connect),
    _S("logs", "The last lines of a server's log.",
       line_specs.LOGS_ARGS, line_specs.logs_spec, actions.logs),
    _S("stats", "Live dashboard: throughput, requests, KV usage, cache hits.",
       arguments(line_specs.arg("names", nargs="*")),
       lambda a: line_specs.StatsSpec(tuple(a.names)), actions.stats),
    _S("bench", "Put load on a server with SGLang's bench_serving, with a live view.",
       add_bench_parser, bench_spec, _bench),
    _S("info", "Model and server information.",
       _name, lambda a: line_specs.InfoSpec(a.name), actions.info),
    _S("flush", "Flush the server's prefix cache.",
       _name, lambda a: line_specs.FlushSpec(a.name), actions.flush),
    _S("session", "session reset NAME: forget a %%sgl --session conversation.",
       line_specs.SESSION_ARGS, line_specs.session_spec, actions.reset_session),
)
_BY_NAME = {command.name: command for command in TABLE}
_PARSERS = {command.name: command.parser() for command in TABLE}
SUBCOMMANDS = tuple(_BY_NAME)


def line_help() -> str:
    """Usage of every subcommand, for ``%sgl?``."""
    return "\n".join(command_help(name) for name in SUBCOMMANDS)


def command_help(command: str) -> str:
    """Usage of one subcommand (``%sgl launch --help``)."""
    # MagicArgumentParser doubles "%" in usage lines (it expects printf-style escaping)
    return _PARSERS[command].format_help().replace("%%sgl", "%sgl")


def parse_command(line: str) -> tuple[Subcommand | None, Any]:
    """``%sgl`` line -> (its table entry, its spec); (None, HelpSpec) for a help request."""
    words = split_line(line)
    if not words:
        raise SglUsageError(
            f"%sgl needs a subcommand: one of {', '.join(SUBCOMMANDS)}. See %sgl help."
        )
    name, rest = words[0], words[1:]
    if name in HELP_WORDS:
        return None, HelpSpec(rest[0] if rest and rest[0] in _BY_NAME else None)
    command = _BY_NAME.get(name)
    if command is None:
        raise UnknownSubcommandError(
            f"%sgl has no subcommand {name!r}.{did_you_mean(name, SUBCOMMANDS)} "
            f"Subcommands: {', '.join(SUBCOMMANDS)}."
        )
    if any(word in ("--help", "-h") for word in rest):
        return None, HelpSpec(name)
    extra: list[str] = []
    if command.passthrough and "--" in rest:
        cut = rest.index("--")
        rest, extra = rest[:cut], rest[cut + 1 :]
    args = _PARSERS[name].parse_args(rest)
    if command.passthrough:
        args.extra_args = tuple(extra)
    return command, command.make(args)


def parse_line(line: str) -> Any:
    """``%sgl`` line -> one of the ``*Spec`` dataclasses."""
    return parse_command(line)[1]


def dispatch(magics: SglMagics, command: Subcommand | None, spec: Any) -> Any:
    """Run a parsed line: its subcommand's handler, or the help."""
    if command is None:
        return actions.show_help(magics, spec)
    return command.act(magics, spec)
