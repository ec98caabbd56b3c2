"""How servers look: the server card, the ``%sgl list`` table, and the live launch view.

Servers are read by attribute (``name``, ``engine``, ``model``, ``url``, ``pid``,
``is_alive()``) so any object with those works, including registry records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sgl_notebook.display.html_builders import badge, card, esc, style, table
from sgl_notebook.display.launch_view import LaunchView, launch_html

__all__ = ["LaunchView", "ServerCard", "ServerTable", "launch_html", "server_card_html"]

# JupyterLab right-aligns table cells in outputs: labels and values say where they go
_LABEL_CSS = style(
    text_align="left", opacity="0.7", padding="1px 12px 1px 0", vertical_align="top",
    white_space="nowrap",
)
_VALUE_CSS = style(text_align="left", padding="1px 0")


def _alive(server: Any) -> bool | None:
    check = getattr(server, "is_alive", None)
    if not callable(check):
        return None
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - a status probe must never break a listing
        return False


def _fields(server: Any) -> list[tuple[str, object]]:
    return [
        ("name", getattr(server, "name", None)),
        ("engine", getattr(server, "engine", None)),
        ("model", getattr(server, "model", None)),
        ("url", getattr(server, "url", None)),
        ("pid", getattr(server, "pid", None)),
    ]


def server_card_html(
    server: Any, current: bool = False, ready_in: float | None = None, reason: str = ""
) -> str:
    """A card naming the server, its engine, model and URL (and, after a launch, how long it
    took and why that engine)."""
    from sgl_notebook.display.launch_view import ready_text

    alive = _alive(server)
    status = {True: badge("running", "#16a34a"), False: badge("stopped", "#dc2626"), None: ""}[
        alive
    ]
    mark = " " + badge("current", "#2563eb") if current else ""
    fields = [(k, v) for k, v in _fields(server)[1:] if v is not None]
    if reason:
        fields.insert(1, ("why", reason))
    rows = "".join(
        f'<tr><th scope="row" style="{_LABEL_CSS};font-weight:normal">{esc(k)}</th>'
        f'<td style="{_VALUE_CSS}"><code>{esc(v)}</code></td></tr>'
        for k, v in fields
    )
    ready = ""
    if ready_in is not None:
        ready = (
            f' <span class="sgl-ready-in" style="font-weight:normal">'
            f"· {ready_text(ready_in)}</span>"
        )
    title = f"{esc(getattr(server, 'name', 'server'))} {status}{mark}{ready}"
    table_css = style(border_collapse="collapse", margin="0")
    body = f'<table class="sgl-kv" style="{table_css}">{rows}</table>'
    return card(title, body, accent="#2563eb")


def server_card_text(server: Any, ready_in: float | None = None) -> str:
    from sgl_notebook.display.launch_view import ready_text

    text = " · ".join(f"{k}: {v}" for k, v in _fields(server) if v is not None)
    return f"{ready_text(ready_in)} · {text}" if ready_in is not None else text


class ServerCard:
    """Displayable card for one server (``ready_in``: how long its launch took, just launched)."""

    def __init__(
        self, server: Any, current: bool = False, ready_in: float | None = None, reason: str = ""
    ) -> None:
        self.server, self.current, self.ready_in, self.reason = server, current, ready_in, reason

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {
            "text/plain": server_card_text(self.server, self.ready_in),
            "text/html": server_card_html(self.server, self.current, self.ready_in, self.reason),
        }


class ServerTable:
    """Displayable table of servers (``%sgl list``); the current one is marked with ``*``."""

    def __init__(self, servers: Iterable[Any], current: str | None = None) -> None:
        self.servers: list[Any] = list(servers)
        self.current = current

    def _rows(self) -> list[list[object]]:
        rows = []
        for s in self.servers:
            name = getattr(s, "name", "?")
            status = {True: "running", False: "stopped", None: "?"}[_alive(s)]
            rows.append(
                [
                    ("* " if name == self.current else "") + str(name),
                    getattr(s, "engine", ""),
                    getattr(s, "model", ""),
                    getattr(s, "url", ""),
                    status,
                ]
            )
        return rows

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        headers = ["name", "engine", "model", "url", "status"]
        if not self.servers:
            text = "No servers yet. Start one with %sgl launch, or %sgl connect URL."
            return {"text/plain": text, "text/html": f"<p>{esc(text)}</p>"}
        rows = self._rows()
        lines: list[list[object]] = [list(headers), *rows]
        plain = "\n".join("  ".join(str(v) for v in row) for row in lines)
        return {"text/plain": plain, "text/html": table(headers, rows)}
