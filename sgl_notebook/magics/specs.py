"""Parse first, then act: a ``%%sgl`` cell becomes a frozen :class:`CellSpec` here.

Pure functions (no server, no namespace). The ``%%sgl`` options are declared with IPython's
``magic_arguments`` (see :data:`cell_magic_arguments`) so ``%%sgl?`` documents them. ``%sgl``
lines are parsed by the table of :mod:`subcommands` into the specs of :mod:`line_specs`.

>>> parse_cell("--max-tokens 8 -o answer", "Hi").max_tokens
8
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from IPython.core import magic_arguments

from sgl_notebook.magics.argparser import SglArgumentParser, split_line
from sgl_notebook.magics.errors import SglUsageError, did_you_mean

__all__ = ["CellSpec", "cell_magic_arguments", "parse_cell"]

MODES = ("chat", "complete", "generate")
# IPython's magic_arguments is untyped; these aliases keep the declarations below type-checked
_magic_arguments: Callable[..., Any] = magic_arguments.magic_arguments
_argument: Callable[..., Any] = magic_arguments.argument


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


def parse_cell(line: str, cell: str) -> CellSpec:
    """``%%sgl`` line + cell body -> :class:`CellSpec` (validated, not yet templated)."""
    args = _cell_options.parser.parse_args(split_line(line))  # type: ignore[attr-defined]
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
