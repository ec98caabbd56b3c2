"""``sgl_notebook.show(obj)``: display anything we render; stream a running program live.

A program started with ``run(stream=True)`` is redrawn (roles, labelled spans) at most
``max_updates_per_s`` times per second until it finishes, then left as a static rendering.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from sgl_notebook.display.program_render import (
    is_program_state,
    program_html,
    program_text,
    render_program_html,
    render_program_text,
    view_of_state,
)
from sgl_notebook.display.stream_state import UpdateThrottle
from sgl_notebook.display.stream_view import frontend_mode

__all__ = ["ProgramDisplay", "show"]


class ProgramDisplay:
    """Static, displayable rendering of a program (or list of programs)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        html = program_html(self.obj)
        text = program_text(self.obj)
        if html is None or text is None:
            return {"text/plain": repr(self.obj)}
        return {"text/plain": text, "text/html": html}


def _is_streaming(state: Any) -> bool:
    executor = state.stream_executor
    return bool(getattr(executor, "stream", False)) and not getattr(executor, "is_finished", True)


def show(obj: Any, *, max_updates_per_s: float = 10.0, mode: str | None = None) -> None:
    """Display ``obj``; a ``ProgramState`` still streaming is followed live until it ends.

    >>> state = my_program.run(topic="tea", stream=True)   # doctest: +SKIP
    >>> sgl_notebook.show(state)                           # doctest: +SKIP
    """
    from IPython.display import display

    if not (is_program_state(obj) and _is_streaming(obj)):
        display(ProgramDisplay(obj) if program_html(obj) is not None else obj)  # type: ignore[no-untyped-call]
        return
    mode = mode or frontend_mode()
    executor = obj.stream_executor
    throttle = UpdateThrottle(max_updates_per_s)
    printed = 0
    widget = handle = None
    if mode == "widget":
        import ipywidgets

        widget = ipywidgets.HTML(value=render_program_html(view_of_state(obj, wait=False)))
        handle = display(widget, display_id=True)  # type: ignore[no-untyped-call]
    while not executor.is_finished:
        executor.stream_text_event.wait(0.2)  # set by the worker after each chunk
        now = time.monotonic()
        if not throttle.due(now):
            time.sleep(max(0.0, throttle.interval - 0.001))
            continue
        if widget is not None:
            widget.value = render_program_html(view_of_state(obj, wait=False))
        else:
            text = str(executor.text_)
            sys.stdout.write(text[printed:])
            sys.stdout.flush()
            printed = len(text)
    final = ProgramDisplay(obj)
    if handle is not None:
        handle.update(final)
        widget.close()  # type: ignore[union-attr]
    else:
        sys.stdout.write(str(executor.text_)[printed:] + "\n")
        sys.stdout.write(render_program_text(view_of_state(obj)) + "\n")
