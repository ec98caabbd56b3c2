"""Markdown to safe HTML for finished answers (markdown-it-py, raw HTML disabled).

Raw HTML in a model's answer is shown as text, never interpreted; ``javascript:`` links are
refused by markdown-it's link validator.

>>> to_html("**hi** <script>x</script>")
'<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>\\n'
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sgl_notebook.display.html_builders import esc

__all__ = ["to_html"]


@lru_cache(maxsize=1)
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    # commonmark + tables + strikethrough; "html": False escapes any raw HTML in the source
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


def to_html(text: str) -> str:
    """Markdown -> HTML with every raw tag escaped (escaped text if markdown-it is missing)."""
    try:
        renderer = _renderer()
    except ImportError:  # pragma: no cover - markdown-it-py is a dependency of ipython's stack
        return f"<p>{esc(text)}</p>"
    return str(renderer.render(text))
