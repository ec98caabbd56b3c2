"""What a frontend-language program produced, as plain data: role blocks, labelled spans, forks.

Pure functions over the pieces a ``ProgramState``'s stream executor holds (its text, OpenAI-style
messages, variables and meta info), so they are tested without sglang and never import it.

Spans are found from the variables: every name with an entry in ``meta_info`` came from a ``gen``
or a ``select`` (``var_scope`` variables have none), and the stream executor appends each result
to the text in execution order, so a left-to-right search finds them.

>>> view = build_program_view("Q: 2+2? A: 4", [], {"answer": "4"}, {"answer": {"id": "x"}})
>>> [(s.text, s.var) for s in view.blocks[0].segments]
[('Q: 2+2? A: ', None), ('4', 'answer')]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Block",
    "ChoiceScore",
    "ProgramView",
    "Segment",
    "build_program_view",
    "select_scores",
]


@dataclass(frozen=True)
class ChoiceScore:
    """One ``select`` option with its normalized prompt logprob (higher is likelier)."""

    choice: str
    score: float
    chosen: bool


@dataclass(frozen=True)
class Segment:
    """A run of text; ``var`` names the ``gen``/``select`` that produced it (None for prompt text)."""

    text: str
    var: str | None = None
    kind: str = "text"  # "text" | "gen" | "select"
    scores: tuple[ChoiceScore, ...] = ()


@dataclass(frozen=True)
class Block:
    """A message (``role`` set) or the template glue / plain text between messages (``role`` None)."""

    role: str | None
    segments: tuple[Segment, ...]
    open: bool = False  # the role has begun but not ended yet (a streaming program)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)


@dataclass(frozen=True)
class ProgramView:
    blocks: tuple[Block, ...]
    forks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # joined fork variables
    error: str | None = None


def select_scores(prefix: str, decision: str, meta: Mapping[str, Any]) -> tuple[ChoiceScore, ...]:
    """Scores of a ``select`` from its meta info, each option's text recovered from its logprob tokens.

    The runtime asks for ``prefix + choice`` with ``return_text_in_logprobs``, starting a token or
    two before the choice, so each option's token texts are (tail of prefix) + choice.
    """
    scores = meta.get("normalized_prompt_logprobs")
    if not isinstance(scores, Sequence):
        return ()
    token_lists = meta.get("input_token_logprobs") or [None] * len(scores)
    best = max(range(len(scores)), key=lambda i: _finite(scores[i]), default=-1)
    out = []
    for index, (score, tokens) in enumerate(zip(scores, token_lists, strict=False)):
        choice = _choice_text(prefix, tokens) or f"choice {index}"
        out.append(ChoiceScore(choice=choice, score=float(score), chosen=index == best))
    # trust the decision over an argmax tie
    if decision and not any(c.chosen and c.choice == decision for c in out):
        out = [ChoiceScore(c.choice, c.score, c.choice == decision) for c in out] or out
    return tuple(out)


def _finite(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return number if math.isfinite(number) else -math.inf


def _choice_text(prefix: str, tokens: Any) -> str | None:
    if not isinstance(tokens, Sequence) or not tokens:
        return None
    pieces = [t[2] for t in tokens if isinstance(t, Sequence) and len(t) > 2]
    if len(pieces) != len(tokens) or not all(isinstance(p, str) for p in pieces):
        return None
    joined = "".join(pieces)
    # drop the longest head of `joined` that is the end of the prefix
    for cut in range(len(joined), -1, -1):
        if prefix.endswith(joined[:cut]):
            return joined[cut:] or None
    return None  # pragma: no cover - cut == 0 always matches


def _find_spans(
    text: str, variables: Mapping[str, Any], meta_info: Mapping[str, Any]
) -> list[tuple[int, int, str, str]]:
    """(start, end, name, kind) of every gen/select value found in ``text``, in order, no overlaps."""
    spans: list[tuple[int, int, str, str]] = []
    cursor = 0
    for name, value in variables.items():
        if name not in meta_info or not isinstance(value, str) or not value:
            continue
        meta = meta_info.get(name) or {}
        kind = "select" if "normalized_prompt_logprobs" in meta else "gen"
        start = text.find(value, cursor)
        if start < 0:
            start = text.find(value)
            if start < 0 or any(s < start + len(value) and start < e for s, e, _, _ in spans):
                continue
        spans.append((start, start + len(value), name, kind))
        cursor = max(cursor, start + len(value))
    spans.sort()
    return spans


def _role_ranges(text: str, messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, str]]:
    ranges: list[tuple[int, int, str]] = []
    cursor = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # vision form: the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        if not isinstance(content, str):
            continue
        start = text.find(content, cursor)
        if start < 0:
            continue
        ranges.append((start, start + len(content), str(message.get("role", "user"))))
        cursor = start + len(content)
    return ranges


def _segments(
    text: str,
    start: int,
    end: int,
    spans: list[tuple[int, int, str, str]],
    meta_info: Mapping[str, Any],
) -> tuple[Segment, ...]:
    out: list[Segment] = []
    pos = start
    for s, e, name, kind in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > pos:
            out.append(Segment(text[pos:s]))
        scores: tuple[ChoiceScore, ...] = ()
        if kind == "select":
            scores = select_scores(text[:s], text[s:e], meta_info.get(name) or {})
        out.append(Segment(text[s:e], var=name, kind=kind, scores=scores))
        pos = e
    if pos < end:
        out.append(Segment(text[pos:end]))
    return tuple(out)


def build_program_view(
    text: str,
    messages: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    open_role: str | None = None,
    error: object | None = None,
) -> ProgramView:
    """Split a program's text into role blocks and labelled spans (see the module docstring)."""
    spans = _find_spans(text, variables, meta_info)
    blocks: list[Block] = []
    pos = 0
    for start, end, role in _role_ranges(text, messages):
        if start > pos:
            blocks.append(Block(None, _segments(text, pos, start, spans, meta_info)))
        blocks.append(Block(role, _segments(text, start, end, spans, meta_info)))
        pos = end
    if pos < len(text) or not blocks:
        blocks.append(
            Block(
                open_role,
                _segments(text, pos, len(text), spans, meta_info),
                open=open_role is not None,
            )
        )
    forks = {
        name: tuple(str(v) for v in value)
        for name, value in variables.items()
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    }
    return ProgramView(tuple(blocks), forks, None if error is None else repr(error))
