"""The launch view of a router group: one row per worker and one for the router, each with the
phases it went through, the current one's message and a progress bar.

>>> html = group_launch_html({"w1": ("ready", "Ready", 1.0), "router": ("warmup", "Workers "
...     "registered: 1/2", 0.5)}, ["w1", "w2", "router"], 3.0, "launching", engine="cpu")
>>> "w2" in html and "Workers registered: 1/2" in html and "✓ ready" in html
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sgl_notebook.display.html_builders import card, esc
from sgl_notebook.display.launch_view import LaunchView, phases_for

__all__ = ["GroupLaunchView", "group_launch_html", "ROUTER_PHASES"]

ROUTER_PHASES: tuple[tuple[str, str], ...] = (
    ("starting", "starting"), ("warmup", "registering workers"), ("ready", "ready"),
)
_State = tuple[str, str, "float | None"]


def _row(member: str, state: _State | None, phases: Sequence[tuple[str, str]]) -> str:
    phase, message, progress = state or ("waiting", "waiting", None)
    order = [key for key, _ in phases]
    current = order.index(phase) if phase in order else -1
    marks = []
    for index, (_, label) in enumerate(phases):
        if phase == "ready" or index < current:
            mark, opacity = "✓", "1"
        elif index == current:
            mark, opacity = "●", "1"
        else:
            mark, opacity = "○", "0.45"
        marks.append(f'<span style="opacity:{opacity};margin-right:8px">{mark} {esc(label)}</span>')
    failed = phase == "failed"
    done = 1.0 if phase == "ready" else (current + (progress or 0.0)) / max(len(phases) - 1, 1)
    width = f"{max(0.0, min(done, 1.0)) * 100:.0f}%"
    colour = "#dc2626" if failed else "#2563eb"
    bar = (f'<div style="height:4px;background:rgba(127,127,127,0.2);border-radius:2px">'
           f'<div style="height:4px;background:{colour};width:{width};border-radius:2px">'
           "</div></div>")
    return (f'<tr class="sgl-member"><td style="padding-right:10px;white-space:nowrap">'
            f"<b>{esc(member)}</b></td><td>{''.join(marks)}{bar}"
            f'<div style="font-size:85%;opacity:0.75">{esc(message)}</div></td></tr>')


def group_launch_html(states: dict[str, _State], members: Sequence[str], elapsed: float,
                      title: str, *, engine: str | None = None, reason: str = "") -> str:
    """Rows of phases: each worker (``engine``'s phases) and the router (its own)."""
    worker_phases = phases_for(engine)
    rows = [_row(m, states.get(m), ROUTER_PHASES if m == "router" else worker_phases)
            for m in members]
    why = f'<div style="font-size:85%;opacity:0.75">{esc(reason)}</div>' if reason else ""
    body = (f"<table>{''.join(rows)}</table>"
            f'<div style="font-size:85%;opacity:0.75"><span class="sgl-launch-clock">'
            f"{elapsed:.0f} s</span></div>")
    return card(f"{esc(title)}{why}", body, accent="#2563eb")


class GroupLaunchView(LaunchView):
    """:class:`LaunchView` for ``launch(replicas=N)``: ``on_phase`` takes ``MemberPhase`` s."""

    def __init__(self, title: str, mode: str, members: Sequence[str], **kwargs: Any) -> None:
        super().__init__(title, mode, **kwargs)
        self.members = list(members)
        self.states: dict[str, _State] = {}

    def _html(self) -> str:
        elapsed = self.elapsed
        self._shown_second = int(elapsed)
        return group_launch_html(self.states, self.members, elapsed, self.title,
                                 engine=self.engine, reason=self.reason)

    def on_phase(self, event: Any) -> None:
        member = str(getattr(event, "member", "router"))
        phase = getattr(getattr(event, "phase", None), "value", None) or "starting"
        message = str(getattr(event, "message", ""))
        self.states[member] = (phase, message, getattr(event, "progress", None))
        if member not in self.members:
            self.members.insert(-1 if "router" in self.members else len(self.members), member)
        if self._widget is not None:
            self._redraw()
        elif self.mode == "text" and phase != "failed":
            print(f"  {member}: {phase}: {message}", flush=True)
