"""The argparse parser of ``%sgl`` / ``%%sgl``: mistakes become UsageErrors with a next step."""

from __future__ import annotations

import re
import shlex
from typing import NoReturn

from IPython.core.magic_arguments import MagicArgumentParser

from sgl_notebook.magics.errors import SglUsageError, UnknownOptionError, did_you_mean

__all__ = ["SglArgumentParser", "split_line", "subcommand_parser"]


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


def subcommand_parser(command: str, description: str) -> SglArgumentParser:
    """The parser of ``%sgl COMMAND`` (no -h: ``--help`` is answered before parsing)."""
    parser = SglArgumentParser(  # type: ignore[no-untyped-call]
        prog=f"%sgl {command}", description=description, add_help=False
    )
    parser.allow_abbrev = False  # typos get "did you mean", not a silent abbreviation
    return parser


def split_line(line: str) -> list[str]:
    """A magic line as shell words; unbalanced quotes are a usage error."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise SglUsageError(f"Cannot split the magic line ({exc}); check the quotes.") from None
