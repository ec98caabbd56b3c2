"""Pure HTML builders: every string that reaches a notebook passes through :func:`esc` here.

All styles are inline (notebook sanitizers keep ``style=`` attributes but may drop ``<style>``),
and colours are translucent so blocks read well on light and dark themes alike.

>>> esc("<b>&")
'&lt;b&gt;&amp;'
>>> pre("a < b").endswith(">a &lt; b</pre>")
True
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = [
    "ROLE_COLORS",
    "SPAN_COLORS",
    "badge",
    "card",
    "esc",
    "kv_line",
    "pre",
    "span",
    "style",
    "table",
]

# role -> (background, border): translucent, so both light and dark themes keep their text colour
ROLE_COLORS: dict[str, tuple[str, str]] = {
    "system": ("rgba(148,163,184,0.14)", "#94a3b8"),
    "user": ("rgba(59,130,246,0.12)", "#3b82f6"),
    "assistant": ("rgba(16,185,129,0.12)", "#10b981"),
    "tool": ("rgba(245,158,11,0.12)", "#f59e0b"),
}
# kind of labelled span -> (background, label colour)
SPAN_COLORS: dict[str, tuple[str, str]] = {
    "gen": ("rgba(250,204,21,0.30)", "#a16207"),
    "select": ("rgba(168,85,247,0.25)", "#7e22ce"),
}
_FONT = "var(--jp-ui-font-family, system-ui, sans-serif)"
_MONO = "var(--jp-code-font-family, monospace)"


def esc(text: object) -> str:
    """HTML-escape any value's ``str`` (quotes included, so it is safe inside attributes)."""
    return html.escape(str(text), quote=True)


def style(**props: str | int | float) -> str:
    """``style(font_size="90%", margin=0)`` -> ``'font-size:90%;margin:0'``."""
    return ";".join(f"{key.replace('_', '-')}:{value}" for key, value in props.items())


def pre(text: str, **props: str) -> str:
    """Escaped, wrapped preformatted text."""
    css = style(white_space="pre-wrap", margin=0, font_family=_MONO, **props)
    return f'<pre style="{css}">{esc(text)}</pre>'


def badge(label: str, color: str = "#64748b", title: str | None = None) -> str:
    """A small rounded label; ``title`` becomes the hover text."""
    css = style(
        display="inline-block",
        padding="0 6px",
        border_radius="8px",
        font_size="75%",
        font_family=_FONT,
        color="#fff",
        background=color,
        vertical_align="middle",
        user_select="none",
    )
    hover = f' title="{esc(title)}"' if title else ""
    return f'<span style="{css}"{hover}>{esc(label)}</span>'


def span(text_html: str, kind: str, label: str, title: str | None = None) -> str:
    """A highlighted ``gen``/``select`` span with its variable name as a label in front.

    ``text_html`` must already be escaped. The label has ``user-select:none`` so copying the
    rendering copies the model's text only.
    """
    background, label_color = SPAN_COLORS.get(kind, SPAN_COLORS["gen"])
    hover = f' title="{esc(title)}"' if title else ""
    css = style(background=background, border_radius="3px", padding="0 1px")
    return (
        f'<span class="sgl-span sgl-{esc(kind)}" data-var="{esc(label)}" style="{css}"{hover}>'
        f"{badge(label, label_color)}{text_html}</span>"
    )


def kv_line(items: Iterable[tuple[str, object]]) -> str:
    """``name: value · name: value`` in small muted type (skips None values)."""
    parts = [
        f"<span>{esc(key)}: <b>{esc(value)}</b></span>" for key, value in items if value is not None
    ]
    css = style(font_size="80%", opacity="0.75", font_family=_FONT, user_select="none")
    return f'<div class="sgl-stats" style="{css}">{" · ".join(parts)}</div>'


def card(title_html: str, body_html: str, footer_html: str = "", accent: str = "#10b981") -> str:
    """A bordered box: a title row, a body, an optional footer. Arguments are HTML (pre-escaped)."""
    box = style(
        border="1px solid rgba(127,127,127,0.35)",
        border_left=f"3px solid {accent}",
        border_radius="4px",
        padding="6px 10px",
        margin="4px 0",
        font_family=_FONT,
    )
    title = f'<div style="{style(font_weight=600, margin_bottom="4px")}">{title_html}</div>'
    return f'<div class="sgl-card" style="{box}">{title}<div>{body_html}</div>{footer_html}</div>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain escaped HTML table."""
    cell = style(
        padding="2px 8px", text_align="left", border_bottom="1px solid rgba(127,127,127,0.25)"
    )
    head = "".join(f'<th style="{cell}">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{cell}">{esc(v)}</td>' for v in row) + "</tr>" for row in rows
    )
    css = style(border_collapse="collapse", font_family=_FONT, font_size="90%")
    return (
        f'<table class="sgl-table" style="{css}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
