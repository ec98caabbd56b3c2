"""Everything shown in a notebook: pure HTML builders, result cards, the stream widget, the
launch view, frontend-language (``ProgramState``) rendering, and ``show``.

IPython and ipywidgets are imported lazily, inside the functions that display.
"""

from __future__ import annotations

from sgl_notebook.display.live_program import ProgramDisplay, show
from sgl_notebook.display.result import SglResult, TokenLogprob

__all__ = ["ProgramDisplay", "SglResult", "TokenLogprob", "show"]
