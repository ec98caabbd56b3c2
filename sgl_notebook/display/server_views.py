"""How servers look: the server card, the ``%sgl list`` table, and the live launch view.

Servers are :class:`~sgl_notebook.server.protocols.NotebookServer` s (launched, connected or a
router); these read ``name``, ``engine``, ``model``, ``url``, ``pid`` and ``is_alive()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sgl_notebook.display.html_builders import badge, card, esc, style, table
from sgl_notebook.display.launch_view import LaunchView, launch_html

if TYPE_CHECKING:
    from sgl_notebook.server.protocols import NotebookServer

__all__ = ["LaunchView", "ServerCard", "ServerTable", "launch_html", "server_card_html"]

# JupyterLab right-aligns table cells in outputs: labels and values say where they go
_LABEL_CSS = style(
    text_align="left", opacity="0.7", padding="1px 12px 1px 0", vertical_align="top",
    white_space="nowrap",
)
_VALUE_CSS = style(text_align="left", padding="1px 0")


def _alive(server: NotebookServer) -> bool:
    try:
        return bool(server.is_alive())
    except Exception:  # noqa: BLE001 - a status probe must never break a listing
        return False


def _fields(server: NotebookServer) -> list[tuple[str, object]]:
    return [
        ("name", server.name),
        ("engine", server.engine),
        ("model", server.model),
        ("url", server.url),
        ("pid", server.pid),
    ]


def server_card_html(
    server: NotebookServer, current: bool = False, ready_in: float | None = None, reason: str = ""
) -> str:
    """A card naming the server, its engine, model and URL (and, after a launch, how long it
    took and why that engine)."""
    from sgl_notebook.display.launch_view import ready_text

    status = badge("running", "#16a34a") if _alive(server) else badge("stopped", "#dc2626")
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
    title = f"{esc(server.name)} {status}{mark}{ready}"
    table_css = style(border_collapse="collapse", margin="0")
    body = f'<table class="sgl-kv" style="{table_css}">{rows}</table>'
    return card(title, body, accent="#2563eb")


def server_card_text(server: NotebookServer, ready_in: float | None = None) -> str:
    from sgl_notebook.display.launch_view import ready_text

    text = " · ".join(f"{k}: {v}" for k, v in _fields(server) if v is not None)
    return f"{ready_text(ready_in)} · {text}" if ready_in is not None else text


class ServerCard:
    """Displayable card for one server (``ready_in``: how long its launch took, just launched)."""

    def __init__(
        self,
        server: NotebookServer,
        current: bool = False,
        ready_in: float | None = None,
        reason: str = "",
    ) -> None:
        self.server, self.current, self.ready_in, self.reason = server, current, ready_in, reason

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {
            "text/plain": server_card_text(self.server, self.ready_in),
            "text/html": server_card_html(self.server, self.current, self.ready_in, self.reason),
        }


class ServerTable:
    """Displayable table of servers (``%sgl list``); the current one is marked with ``*``."""

    def __init__(self, servers: Iterable[NotebookServer], current: str | None = None) -> None:
        self.servers: list[NotebookServer] = list(servers)
        self.current = current

    def _rows(self) -> list[list[object]]:
        rows: list[list[object]] = []
        for s in self.servers:
            mark = "* " if s.name == self.current else ""
            status = "running" if _alive(s) else "stopped"
            rows.append([mark + str(s.name), s.engine, s.model, s.url, status])
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
