"""Register our renderings with IPython's display formatters, by type *name*.

``for_type_by_name`` means sglang and openai are never imported by us: the formatter is picked
up the first time an object of that type is displayed.
"""

from __future__ import annotations

from typing import Any

from sgl_notebook.display.program_render import program_html, program_text, track_fork_positions
from sgl_notebook.display.responses import response_html, response_text

__all__ = ["register_formatters", "unregister_formatters"]

_PROGRAM_TYPES = [
    ("sglang.lang.interpreter", "ProgramState"),
    ("sglang.lang.interpreter", "ProgramStateGroup"),
]
_RESPONSE_TYPES = [
    ("openai.types.chat.chat_completion", "ChatCompletion"),
    ("openai.types.completion", "Completion"),
    ("sgl_notebook.client", "GenerateResult"),
    ("sgl_notebook.client", "ChatResult"),
]


def _list_html(obj: list[Any]) -> str | None:
    # lists are everywhere: only claim a non-empty list of ProgramStates (run_batch's result)
    if obj and type(obj[0]).__name__ == "ProgramState":
        return program_html(obj)
    return None


def _pretty(render: Any) -> Any:
    def printer(obj: Any, p: Any, cycle: bool) -> None:
        p.text(render(obj))

    return printer


def register_formatters(shell: Any) -> None:
    """HTML and plain-text renderers for ProgramState(s) and openai responses."""
    formatters = shell.display_formatter.formatters
    html, plain = formatters["text/html"], formatters["text/plain"]
    for module, name in _PROGRAM_TYPES:
        html.for_type_by_name(module, name, program_html)
        plain.for_type_by_name(module, name, _pretty(program_text))
    for module, name in _RESPONSE_TYPES:
        html.for_type_by_name(module, name, response_html)
        plain.for_type_by_name(module, name, _pretty(response_text))
    html.for_type(list, _list_html)
    # once sglang is imported (by the person or by us), forks are placed where they ran
    events = getattr(shell, "events", None)
    if events is not None and _track_forks not in events.callbacks.get("pre_run_cell", []):
        events.register("pre_run_cell", _track_forks)
    _track_forks()


def _track_forks(*_: Any) -> None:
    global _forks_tracked
    if not _forks_tracked:
        _forks_tracked = track_fork_positions()


_forks_tracked = False


def unregister_formatters(shell: Any) -> None:
    formatters = shell.display_formatter.formatters
    events = getattr(shell, "events", None)
    if events is not None and _track_forks in events.callbacks.get("pre_run_cell", []):
        events.unregister("pre_run_cell", _track_forks)
    for fmt in (formatters["text/html"], formatters["text/plain"]):
        for module, name in _PROGRAM_TYPES + _RESPONSE_TYPES:
            fmt.deferred_printers.pop((module, name), None)
            for cls in list(fmt.type_printers):
                if cls.__module__ == module and cls.__name__ == name:
                    fmt.type_printers.pop(cls, None)
    if formatters["text/html"].type_printers.get(list) is _list_html:
        formatters["text/html"].type_printers.pop(list)
