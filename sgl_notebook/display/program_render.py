"""HTML and plain-text renderings of frontend-language programs (``ProgramState`` and friends).

sglang is never imported here: objects are read by attribute (``stream_executor.text_``,
``messages_``, ``variables``, ``meta_info``, ``cur_role``, ``error_``), which holds for the
0.4.10 interpreter and the 0.5 line.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from sgl_notebook.display.html_builders import ROLE_COLORS, badge, esc, span, style
from sgl_notebook.display.program_model import Block, ProgramView, Segment, build_program_view

__all__ = [
    "FORK_POSITIONS",
    "is_program_state",
    "program_html",
    "program_text",
    "render_program_html",
    "render_program_text",
    "track_fork_positions",
    "view_of_state",
]

_FONT = "var(--jp-ui-font-family, system-ui, sans-serif)"
FORK_POSITIONS = "_sgl_notebook_fork_positions"  # executor attribute: joined variable -> text pos
_FORK_COLUMN = style(
    flex="1 1 0",
    min_width="120px",
    background=ROLE_COLORS["assistant"][0],
    padding="4px 8px",
    border_radius="4px",
    white_space="pre-wrap",
)


def is_program_state(obj: object) -> bool:
    """True for sglang's ``ProgramState`` (checked by name, so sglang need not be imported)."""
    return type(obj).__name__ == "ProgramState" and hasattr(obj, "stream_executor")


def view_of_state(state: Any, wait: bool = True) -> ProgramView:
    """Snapshot a ProgramState. ``wait=False`` reads a running program without blocking on it."""
    executor = state.stream_executor
    if wait:
        executor.sync()
    for _ in range(5):  # the worker thread may mutate the dicts while we copy them
        try:
            variables = dict(executor.variables)
            meta_info = dict(executor.meta_info)
            messages = list(executor.messages_)
            break
        except RuntimeError:
            time.sleep(0.001)
    else:  # pragma: no cover
        variables, meta_info, messages = {}, {}, []
    open_role = getattr(executor, "cur_role", None)
    return build_program_view(
        str(executor.text_),
        messages,
        variables,
        meta_info,
        open_role=open_role,
        error=getattr(executor, "error_", None),
        templates=_templates(executor, messages),
        open_prefix=_open_prefix(executor, open_role, messages),
        known_forks=getattr(executor, FORK_POSITIONS, None),
    )


def _open_prefix(executor: Any, role: str | None, messages: list[Any]) -> str:
    """The chat template's text that began the role still open (``<|im_start|>assistant\\n``)."""
    template = getattr(executor, "chat_template", None)
    if role is None or template is None or not hasattr(template, "get_prefix_and_suffix"):
        return ""
    try:
        return str(template.get_prefix_and_suffix(role, messages)[0])
    except Exception:  # noqa: BLE001 - shown as text then, as before
        return ""


def track_fork_positions() -> bool:
    """Record where each ``fork`` ran, so forks render in program order (sglang must be imported;
    called when the frontend language is set up). The text a fork starts from is the parent's
    text when it joins (``fork`` synced it, and a parent gets nothing while its forks run).
    True when the hook is in place."""
    import sys

    interpreter = sys.modules.get("sglang.lang.interpreter")
    group = getattr(interpreter, "ProgramStateGroup", None)
    join = getattr(group, "join", None)
    if group is None or join is None:
        return False
    if getattr(join, "_sgl_notebook", False):
        return True

    def tracked_join(self: Any, mode: str = "gather_variable") -> Any:
        parent = self.src_state.stream_executor
        before = set(parent.variables)
        at = len(parent.text_)
        result = join(self, mode)
        positions = parent.__dict__.setdefault(FORK_POSITIONS, {})
        for name in parent.variables:
            if name not in before:
                positions[name] = at
        return result

    tracked_join._sgl_notebook = True  # type: ignore[attr-defined]
    group.join = tracked_join
    return True


def _templates(executor: Any, messages: list[Any]) -> list[tuple[str, str]] | None:
    """The chat template's (prefix, suffix) of each message, as the interpreter added them."""
    template = getattr(executor, "chat_template", None)
    if template is None or not hasattr(template, "get_prefix_and_suffix"):
        return None
    try:
        return [
            tuple(template.get_prefix_and_suffix(m.get("role"), messages[:i]))
            for i, m in enumerate(messages)
        ]
    except Exception:  # noqa: BLE001 - fall back to searching the contents
        return None


# ---------------------------------------------------------------- HTML


def _segment_html(segment: Segment) -> str:
    text = esc(segment.text)
    if segment.var is None:
        return text
    title = None
    if segment.scores:
        title = "; ".join(
            f"{'✓ ' if c.chosen else ''}{c.choice!r}: {c.score:.3f}" for c in segment.scores
        )
    return span(text, segment.kind, segment.var, title=title)


def _scores_html(block: Block) -> str:
    rows = []
    for segment in block.segments:
        if not segment.scores:
            continue
        best = max((c.score for c in segment.scores if math.isfinite(c.score)), default=0.0)
        items = []
        for choice in segment.scores:
            # bar width: relative likelihood against the best option
            share = math.exp(choice.score - best) if math.isfinite(choice.score) else 0.0
            bar = style(
                display="inline-block",
                width=f"{max(2, round(60 * share))}px",
                height="6px",
                background="#a855f7" if choice.chosen else "rgba(168,85,247,0.35)",
                margin_right="4px",
                vertical_align="middle",
            )
            weight = "font-weight:600;" if choice.chosen else ""
            items.append(
                f'<span style="{weight}margin-right:12px"><span style="{bar}"></span>'
                f"{esc(choice.choice)} <small>{choice.score:.3f}</small></span>"
            )
        label = badge(f"{segment.var} scores", "#7e22ce")
        rows.append(f'<div style="font-size:85%;margin-top:4px">{label} {"".join(items)}</div>')
    return "".join(rows)


def _block_html(block: Block, view: ProgramView) -> str:
    if block.fork is not None:
        return _fork_html(block.fork, view.forks.get(block.fork, ()))
    body = "".join(_segment_html(s) for s in block.segments)
    if block.role is None:
        if not block.text.strip():
            return ""
        css = style(opacity="0.6", white_space="pre-wrap", font_size="85%", margin="2px 0")
        return f'<div class="sgl-glue" style="{css}">{body}</div>'
    background, border = ROLE_COLORS.get(block.role, ROLE_COLORS["user"])
    css = style(
        background=background,
        border_left=f"3px solid {border}",
        border_radius="4px",
        padding="4px 8px",
        margin="4px 0",
        white_space="pre-wrap",
    )
    role = badge(block.role + (" …" if block.open else ""), border)
    template = ""
    if block.prefix.strip() or block.suffix.strip():
        # the chat template's markers, for the curious: shown small, not copied with the text
        shown = f"{block.prefix.strip()} … {block.suffix.strip()}".strip(" …")
        template = f' <span style="opacity:0.5;font-size:75%;user-select:none">{esc(shown)}</span>'
    return (
        f'<div class="sgl-msg sgl-role-{esc(block.role)}" style="{css}">'
        f'<div style="margin-bottom:2px">{role}{template}</div>{body}{_scores_html(block)}</div>'
    )


def _fork_html(name: str, values: Sequence[str]) -> str:
    columns = "".join(
        f'<div style="{_FORK_COLUMN}">{span(esc(value), "gen", f"{name}[{i}]")}</div>'
        for i, value in enumerate(values)
    )
    return (
        f'<div class="sgl-fork" data-var="{esc(name)}" style="margin:6px 0">'
        f'{badge(f"fork: {name}", "#0f766e")}'
        f'<div style="display:flex;gap:6px;margin-top:2px">{columns}</div></div>'
    )


def _empty_html(view: ProgramView) -> str:
    if not view.empty:
        return ""
    labels = " ".join(span("", "gen", f"{name} = ''") for name in view.empty)
    return f'<div class="sgl-empty" style="font-size:85%;margin-top:4px">{labels}</div>'


def render_program_html(view: ProgramView, title: str = "ProgramState") -> str:
    """The full rendering of one program: role blocks, labelled spans, select scores, forks."""
    error = ""
    if view.error:
        error = f'<div style="color:#dc2626;margin-top:4px">error: {esc(view.error)}</div>'
    css = style(font_family=_FONT, line_height="1.45", padding="2px 0")
    return (
        f'<div class="sgl-program" style="{css}">'
        f'<div style="font-size:75%;opacity:0.6">{esc(title)}</div>'
        f"{''.join(_block_html(b, view) for b in view.blocks)}{_empty_html(view)}"
        f"{error}</div>"
    )


def render_program_text(view: ProgramView) -> str:
    """Readable plain text: ``[role]`` headers and ``⟦var: value⟧`` spans."""
    lines: list[str] = []
    for block in view.blocks:
        if block.fork is not None:
            values = view.forks.get(block.fork, ())
            lines.extend(f"[fork {block.fork}[{i}]] {v}" for i, v in enumerate(values))
            continue
        body = "".join(s.text if s.var is None else f"⟦{s.var}: {s.text}⟧" for s in block.segments)
        if block.role is None:
            if body.strip():
                lines.append(body.strip("\n"))
            continue
        lines.append(f"[{block.role}] {body}")
        for s in block.segments:
            if s.scores:
                ranked = ", ".join(f"{c.choice}={c.score:.3f}" for c in s.scores)
                lines.append(f"    {s.var} scores: {ranked}")
    for name in view.empty:
        lines.append(f"⟦{name}: ⟧ (empty)")
    if view.error:
        lines.append(f"error: {view.error}")
    return "\n".join(lines)


# ------------------------------------------------------- objects -> mime


def program_html(obj: Any) -> str | None:
    """HTML for a ProgramState, a ProgramStateGroup or a ``run_batch`` list; else None."""
    if is_program_state(obj):
        return render_program_html(view_of_state(obj))
    states = _state_list(obj)
    if states is None:
        return None
    columns = "".join(
        f'<div style="flex:1 1 0;min-width:200px">'
        f"{render_program_html(view_of_state(s), f'[{i}]')}</div>"
        for i, s in enumerate(states)
    )
    return f'<div class="sgl-programs" style="display:flex;gap:10px;flex-wrap:wrap">{columns}</div>'


def program_text(obj: Any) -> str | None:
    """Plain text twin of :func:`program_html`."""
    if is_program_state(obj):
        return render_program_text(view_of_state(obj))
    states = _state_list(obj)
    if states is None:
        return None
    return "\n\n".join(
        f"── [{i}] ──\n{render_program_text(view_of_state(s))}" for i, s in enumerate(states)
    )


def _state_list(obj: Any) -> Sequence[Any] | None:
    if type(obj).__name__ == "ProgramStateGroup":
        obj = getattr(obj, "states", None)
    if isinstance(obj, (list, tuple)) and obj and all(is_program_state(s) for s in obj):
        return obj
    return None
