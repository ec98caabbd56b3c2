"""The live launch view of ``%sgl launch``: which model on which engine and why, the phases that
engine goes through, a clock that ticks while it loads, and a final card (ready, failed, cancelled).

The clock is redrawn by a small daemon thread once a second, and only when the shown second
changed, so a launch costs one widget message a second however long it takes.

>>> [label for _, label in phases_for("cpu")]
['starting', 'loading weights', 'KV cache', 'warm-up', 'ready']
>>> "graph capture" in launch_html("starting", "", None, 3.2, "launching smollm2", engine="sglang")
True
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from sgl_notebook.display.html_builders import badge, card, esc, pre, style

__all__ = ["LaunchView", "launch_html", "phases_for", "ready_text"]

_TRACK = style(
    height="6px", background="rgba(127,127,127,0.2)", border_radius="3px", margin="4px 0"
)
_BAR = style(height="6px", background="#2563eb", border_radius="3px")
# LaunchPhase values in order, with what a person reads
_ALL_PHASES: tuple[tuple[str, str], ...] = (
    ("starting", "starting"),
    ("loading_weights", "loading weights"),
    ("kv_cache", "KV cache"),
    ("graph_capture", "graph capture"),
    ("warmup", "warm-up"),
    ("ready", "ready"),
)
# flags that switch graph capture off (SGLang, vLLM)
_NO_GRAPHS = ("--disable-cuda-graph", "--enforce-eager")
TICK_S = 1.0


def phases_for(engine: str | None, extra_args: Sequence[str] = ()) -> list[tuple[str, str]]:
    """The phases a launch on ``engine`` can go through (the CPU engine captures no graphs)."""
    skip = set()
    if engine == "cpu" or any(arg in _NO_GRAPHS for arg in extra_args):
        skip.add("graph_capture")
    return [(key, label) for key, label in _ALL_PHASES if key not in skip]


def ready_text(seconds: float) -> str:
    """``Ready in 12.3 s`` (whole seconds past a minute: ``Ready in 1 min 32 s``)."""
    if seconds < 60:
        return f"Ready in {seconds:.1f} s"
    return f"Ready in {int(seconds // 60)} min {int(seconds % 60)} s"


def _header(title: str, reason: str) -> str:
    css = style(font_size="85%", opacity="0.75", font_weight="normal")
    why = f'<div class="sgl-launch-why" style="{css}">{esc(reason)}</div>' if reason else ""
    return f"{esc(title)}{why}"


def launch_html(
    phase: str,
    message: str,
    progress: float | None,
    elapsed: float,
    title: str,
    *,
    engine: str | None = None,
    reason: str = "",
    extra_args: Sequence[str] = (),
) -> str:
    """The launch view: the engine's phases ticked off, the current one with a progress bar."""
    phases = phases_for(engine, extra_args)
    order = [p for p, _ in phases]
    current = order.index(phase) if phase in order else 0
    steps = []
    for i, (_, label) in enumerate(phases):
        if i < current or phase == "ready":
            mark, opacity = "✓", "1"
        elif i == current:
            mark, opacity = "●", "1"
        else:
            mark, opacity = "○", "0.45"
        steps.append(
            f'<span class="sgl-phase" style="opacity:{opacity};margin-right:10px">'
            f"{mark} {esc(label)}</span>"
        )
    fraction = (current + (progress or 0.0)) / (len(phases) - 1) if phase != "ready" else 1.0
    width = f"{min(fraction, 1.0) * 100:.0f}%"
    bar = f'<div style="{_TRACK}"><div style="{_BAR};width:{width}"></div></div>'
    detail = (
        f'<div style="font-size:85%;opacity:0.75">{esc(message)} · '
        f'<span class="sgl-launch-clock">{elapsed:.0f} s</span></div>'
    )
    return card(
        _header(title, reason), f"<div>{''.join(steps)}</div>{bar}{detail}", accent="#2563eb"
    )


class LaunchView:
    """Shows a launch while it runs; ``on_phase`` is given to ``sgl_notebook.launch``.

    ``engine`` and ``reason`` (from ``resolve_engine``) name the engine in the header and pick
    the phases shown. End it with :meth:`succeeded`, :meth:`failed`, :meth:`cancelled` or
    :meth:`discard` (a mistake the magic reports itself: nothing is left on screen).
    """

    def __init__(
        self,
        title: str,
        mode: str,
        *,
        engine: str | None = None,
        reason: str = "",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.title, self.mode = title, mode
        self.engine, self.reason, self.extra_args = engine, reason, tuple(extra_args)
        self.started = time.monotonic()
        self.phase, self.message, self.progress = "starting", "starting the server process", None
        self._widget: Any = None
        self._handle: Any = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._shown_second = -1
        self.redraws = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def start(self) -> None:
        if self.mode == "widget":
            import ipywidgets
            from IPython.display import display

            self._widget = ipywidgets.HTML(value=self._html())
            self._handle = display(self._widget, display_id=True)  # type: ignore[no-untyped-call]
            threading.Thread(target=self._tick, name="sgl-launch-clock", daemon=True).start()
        else:
            engine = f" on the {self.engine} engine" if self.engine else ""
            why = f" ({self.reason})" if self.reason else ""
            print(f"{self.title}{engine}{why}: starting", flush=True)

    def _html(self) -> str:
        elapsed = self.elapsed
        self._shown_second = int(elapsed)
        return launch_html(
            self.phase, self.message, self.progress, elapsed, self.title,
            engine=self.engine, reason=self.reason, extra_args=self.extra_args,
        )

    def _redraw(self) -> None:
        with self._lock:
            if self._widget is not None and not self._done.is_set():
                self._widget.value = self._html()
                self.redraws += 1

    def _tick(self) -> None:
        # redraw when the shown second changes; the wait ends early when the launch is over
        while not self._done.wait(TICK_S / 4):
            if int(self.elapsed) != self._shown_second:
                self._redraw()

    def on_phase(self, event: Any) -> None:
        """Called from the launcher (possibly off the main thread) with a ``PhaseEvent``."""
        phase = getattr(getattr(event, "phase", None), "value", None) or str(
            getattr(event, "phase", "")
        )
        if phase == "failed":
            return  # the final card says it
        self.phase, self.message = phase, str(getattr(event, "message", ""))
        self.progress = getattr(event, "progress", None)
        if self._widget is not None:
            self._redraw()
        elif self.mode == "text":
            print(f"  {self.phase}: {self.message}", flush=True)

    def succeeded(self, server: Any) -> None:
        from sgl_notebook.display.server_views import ServerCard

        self._finish(ServerCard(server, current=True, ready_in=self.elapsed, reason=self.reason))

    def failed(self, error: BaseException) -> None:
        if self.mode == "text":
            self._done.set()
            return  # the magic's one-line error says it all; no card to leave behind
        reason = getattr(error, "reason", None) or str(error).splitlines()[0]
        hint = getattr(error, "hint", "")
        tail = list(getattr(error, "log_tail", []) or [])
        body = f'<div style="color:#dc2626">{esc(reason)}</div>'
        if hint:
            body += f"<div>What to do: {esc(hint)}</div>"
        if tail:
            body += (
                "<details><summary style='opacity:0.7;cursor:pointer'>last log lines</summary>"
                + pre("\n".join(tail[-30:]), font_size="85%")
                + "</details>"
            )
        title = esc(self.title) + " " + badge("failed", "#dc2626")
        html = card(title, body, accent="#dc2626")
        text = "\n".join([f"{self.title}: failed: {reason}", *tail[-30:]])
        self._finish(_Static(text, html))

    def cancelled(self, note: str) -> None:
        """The launch was interrupted: a cancelled card (widget) or nothing (text: the magic
        prints ``note``)."""
        if self.mode == "text":
            self._done.set()
            return
        html = card(
            esc(self.title) + " " + badge("cancelled", "#64748b"),
            f"<div>{esc(note)} (after {self.elapsed:.0f} s)</div>",
            accent="#64748b",
        )
        self._finish(_Static(f"{self.title}: cancelled", html))

    def discard(self) -> None:
        """Take the view off the screen (the magic raises one clear error instead)."""
        self._done.set()
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)
            self._widget.close()

    def _finish(self, obj: Any) -> None:
        with self._lock:
            self._done.set()
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
