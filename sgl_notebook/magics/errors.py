"""Mistakes a person can make with ``%sgl`` / ``%%sgl``; each says what to do next.

All are :class:`IPython.core.error.UsageError` subclasses, so IPython prints one clear line and
no traceback, and the kernel carries on::

    SglUsageError
    ├── UnknownOptionError       an option the magic does not have (did you mean ...)
    ├── UnknownSubcommandError   %sgl frobnicate (did you mean ...)
    ├── NoServerError            a %%sgl cell before any %sgl launch / connect
    ├── UnknownServerError       a name that is not a known server (did you mean ...)
    ├── TemplateVariableError    {{ name }} not defined in the notebook (did you mean ...)
    ├── TemplateSyntaxError      a {{ / {% the template engine cannot parse
    ├── InvalidSchemaError       --json-schema that is neither JSON nor a variable holding a schema
    ├── UnknownSessionError      %sgl session reset NAME for a session that does not exist
    ├── ServerRequestError       the server refused the request (its message is shown)
    ├── LaunchFailedError        the server did not come up (the log tail is shown)
    └── LaunchCancelledError     the launch was interrupted (nothing is left running)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from IPython.core.error import UsageError

__all__ = [
    "InvalidSchemaError",
    "LaunchCancelledError",
    "LaunchFailedError",
    "NoServerError",
    "ServerRequestError",
    "SglUsageError",
    "TemplateSyntaxError",
    "TemplateVariableError",
    "UnknownOptionError",
    "UnknownServerError",
    "UnknownSessionError",
    "UnknownSubcommandError",
    "did_you_mean",
]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


class SglUsageError(UsageError):
    """Base of every sgl-notebook magic mistake."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows a bare UsageError as one line but gives subclasses a full traceback;
        # this hook (also honoured by ipykernel) keeps ours to the one line that matters.
        return [f"{type(self).__name__}: {self}"]


class UnknownOptionError(SglUsageError):
    pass


class UnknownSubcommandError(SglUsageError):
    pass


class NoServerError(SglUsageError):
    pass


class UnknownServerError(SglUsageError):
    pass


class TemplateVariableError(SglUsageError):
    pass


class TemplateSyntaxError(SglUsageError):
    pass


class InvalidSchemaError(SglUsageError):
    pass


class UnknownSessionError(SglUsageError):
    pass


class ServerRequestError(SglUsageError):
    pass


class LaunchFailedError(SglUsageError):
    pass


class LaunchCancelledError(SglUsageError):
    pass
