"""How servers look: the server card, the ``%sgl list`` table, and the live launch view.

Servers are read by attribute (``name``, ``engine``, ``model``, ``url``, ``pid``,
``is_alive()``) so any object with those works, including registry records.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

from sgl_notebook.display.html_builders import badge, card, esc, pre, style, table

__all__ = ["LaunchView", "ServerCard", "ServerTable", "launch_html", "server_card_html"]

_TRACK = style(
    height="6px", background="rgba(127,127,127,0.2)", border_radius="3px", margin="4px 0"
)
_BAR = style(height="6px", background="#2563eb", border_radius="3px")
# LaunchPhase values in order, with what a person reads
_PHASES: list[tuple[str, str]] = [
    ("starting", "starting"),
    ("loading_weights", "loading weights"),
    ("kv_cache", "KV cache"),
    ("graph_capture", "graph capture"),
    ("warmup", "warm-up"),
    ("ready", "ready"),
]


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


def server_card_html(server: Any, current: bool = False) -> str:
    """A card naming the server, its engine, model and URL."""
    alive = _alive(server)
    status = {True: badge("running", "#16a34a"), False: badge("stopped", "#dc2626"), None: ""}[
        alive
    ]
    mark = " " + badge("current", "#2563eb") if current else ""
    rows = "".join(
        f'<tr><td style="opacity:0.7;padding-right:12px">{esc(k)}</td>'
        f"<td><code>{esc(v)}</code></td></tr>"
        for k, v in _fields(server)[1:]
        if v is not None
    )
    title = f"{esc(getattr(server, 'name', 'server'))} {status}{mark}"
    return card(title, f"<table>{rows}</table>", accent="#2563eb")


def server_card_text(server: Any) -> str:
    return " · ".join(f"{k}: {v}" for k, v in _fields(server) if v is not None)


class ServerCard:
    """Displayable card for one server."""

    def __init__(self, server: Any, current: bool = False) -> None:
        self.server, self.current = server, current

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {
            "text/plain": server_card_text(self.server),
            "text/html": server_card_html(self.server, self.current),
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


def launch_html(
    phase: str, message: str, progress: float | None, elapsed: float, title: str
) -> str:
    """The launch view: each phase ticked off, the current one with a progress bar."""
    order = [p for p, _ in _PHASES]
    current = order.index(phase) if phase in order else 0
    steps = []
    for i, (_, label) in enumerate(_PHASES):
        mark, opacity = (
            ("✓", "1")
            if i < current or phase == "ready"
            else (("●", "1") if i == current else ("○", "0.45"))
        )
        steps.append(
            f'<span style="opacity:{opacity};margin-right:10px">{mark} {esc(label)}</span>'
        )
    fraction = (current + (progress or 0.0)) / (len(_PHASES) - 1) if phase != "ready" else 1.0
    width = f"{min(fraction, 1.0) * 100:.0f}%"
    bar = f'<div style="{_TRACK}"><div style="{_BAR};width:{width}"></div></div>'
    detail = f'<div style="font-size:85%;opacity:0.75">{esc(message)} · {elapsed:.0f} s</div>'
    return card(esc(title), f"<div>{''.join(steps)}</div>{bar}{detail}", accent="#2563eb")


class LaunchView:
    """Shows a launch while it runs; ``on_phase`` is given to ``sgl_notebook.launch``."""

    def __init__(self, title: str, mode: str) -> None:
        self.title, self.mode = title, mode
        self.started = time.monotonic()
        self.phase, self.message, self.progress = "starting", "starting the server process", None
        self._widget: Any = None
        self._handle: Any = None

    def start(self) -> None:
        if self.mode == "widget":
            import ipywidgets
            from IPython.display import display

            self._widget = ipywidgets.HTML(value=self._html())
            self._handle = display(self._widget, display_id=True)  # type: ignore[no-untyped-call]
        else:
            print(f"{self.title}: starting", flush=True)

    def _html(self) -> str:
        return launch_html(
            self.phase, self.message, self.progress, time.monotonic() - self.started, self.title
        )

    def on_phase(self, event: Any) -> None:
        """Called from the launcher (possibly off the main thread) with a ``PhaseEvent``."""
        phase = getattr(getattr(event, "phase", None), "value", None) or str(
            getattr(event, "phase", "")
        )
        self.phase, self.message = phase, str(getattr(event, "message", ""))
        self.progress = getattr(event, "progress", None)
        if self._widget is not None:
            self._widget.value = self._html()
        elif self.mode == "text":
            print(f"  {self.phase}: {self.message}", flush=True)

    def succeeded(self, server: Any) -> None:
        self._finish(ServerCard(server, current=True))

    def failed(self, error: BaseException) -> None:
        if self.mode == "text":
            return  # the magic's one-line error says it all; no card to leave behind
        reason = getattr(error, "reason", None) or str(error).splitlines()[0]
        hint = getattr(error, "hint", "")
        tail = list(getattr(error, "log_tail", []) or [])
        body = f'<div style="color:#dc2626">{esc(reason)}</div>'
        if hint:
            body += f"<div>What to do: {esc(hint)}</div>"
        if tail:
            body += "<div style='opacity:0.7;margin-top:4px'>last log lines</div>" + pre(
                "\n".join(tail[-30:]), font_size="85%"
            )
        html = card(esc(self.title) + " " + badge("failed", "#dc2626"), body, accent="#dc2626")
        text = "\n".join([f"{self.title}: failed: {reason}", *tail[-30:]])
        self._finish(_Static(text, html))

    def _finish(self, obj: Any) -> None:
        if self._handle is not None:
            self._handle.update(obj)
            self._widget.close()
        elif self.mode == "text":
            bundle = obj._repr_mimebundle_()
            sys.stdout.write(bundle["text/plain"] + "\n")
        else:  # pragma: no cover
            from IPython.display import display

            display(obj)  # type: ignore[no-untyped-call]


class _Static:
    def __init__(self, text: str, html: str) -> None:
        self.text, self.html = text, html

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}
