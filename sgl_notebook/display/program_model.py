"""What a frontend-language program produced, as plain data: role blocks, labelled spans, forks.

Pure functions over the pieces a ``ProgramState``'s stream executor holds (its text, OpenAI-style
messages, variables and meta info), so they are tested without sglang and never import it.

Spans are found from the variables: every name with an entry in ``meta_info`` came from a ``gen``
or a ``select`` (``var_scope`` variables have none), and the stream executor appends each result
to the end of the text in execution order, so searching backwards from the end, latest first,
finds where each was generated.

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
    """A run of text; ``var`` names the ``gen``/``select`` that produced it (None: prompt text)."""

    text: str
    var: str | None = None
    kind: str = "text"  # "text" | "gen" | "select"
    scores: tuple[ChoiceScore, ...] = ()


@dataclass(frozen=True)
class Block:
    """A message (``role`` set), or the plain text between messages (``role`` None)."""

    role: str | None
    segments: tuple[Segment, ...]
    open: bool = False  # the role has begun but not ended yet (a streaming program)
    prefix: str = ""  # the chat template's text around the message (shown dimmed)
    suffix: str = ""
    fork: str | None = None  # a fork's joined variable, shown here in program order

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)


@dataclass(frozen=True)
class ProgramView:
    blocks: tuple[Block, ...]
    forks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # joined fork variables
    error: str | None = None
    empty: tuple[str, ...] = ()  # gen/select variables whose value is "" (nothing to highlight)


def select_scores(prefix: str, decision: str, meta: Mapping[str, Any]) -> tuple[ChoiceScore, ...]:
    """Scores of a ``select`` from its meta info; each option's text comes from its logprob tokens.

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


def _rfind(text: str, value: str, end: int, forbidden: list[tuple[int, int]]) -> int:
    """Last index of ``value`` ending at or before ``end`` that overlaps no ``forbidden`` range."""
    at = text.rfind(value, 0, end)
    while at >= 0 and any(a < at + len(value) and at < b for a, b in forbidden):
        at = text.rfind(value, 0, at + len(value) - 1)
    return at


def _find_spans(
    text: str,
    variables: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    forbidden: list[tuple[int, int]] | None = None,
) -> list[tuple[int, int, str, str]]:
    """(start, end, name, kind) of every gen/select value found in ``text``, no overlaps.

    The interpreter appends each value to the end of the text when it is produced, so values are
    searched from the end, latest variable first: a short value (a digit, a ``select`` choice)
    that also appears in the prompt before it is matched where it was generated.
    ``forbidden``: chat-template markers, which a generated value can never be part of.
    """
    spans: list[tuple[int, int, str, str]] = []
    blocked = list(forbidden or [])
    bound = len(text)
    for name, value in reversed(list(variables.items())):
        if name not in meta_info or not isinstance(value, str) or not value:
            continue
        meta = meta_info.get(name) or {}
        kind = "select" if "normalized_prompt_logprobs" in meta else "gen"
        taken = blocked + [(s, e) for s, e, _, _ in spans]
        start = _rfind(text, value, bound, taken)
        if start < 0:
            start = _rfind(text, value, len(text), taken)
            if start < 0:
                continue
        spans.append((start, start + len(value), name, kind))
        bound = min(bound, start)
    spans.sort()
    return spans


def _content_of(message: Mapping[str, Any]) -> str | None:
    content = message.get("content")
    if isinstance(content, list):  # vision form: the text parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return content if isinstance(content, str) else None


def _role_ranges(
    text: str,
    messages: Sequence[Mapping[str, Any]],
    templates: Sequence[tuple[str, str]] | None = None,
) -> list[tuple[int, int, int, int, str]]:
    """(prefix start, content start, content end, suffix end, role) of each message.

    With the chat template's (prefix, suffix) per message the walk follows how the interpreter
    wrote the text: prefix, content, suffix (the message's content is left-stripped, so the text
    between prefix and suffix is the truth). Without a template, contents are searched.
    """
    ranges: list[tuple[int, int, int, int, str]] = []
    cursor = 0
    for index, message in enumerate(messages):
        content = _content_of(message)
        if content is None:
            continue
        role = str(message.get("role", "user"))
        prefix, suffix = templates[index] if templates and index < len(templates) else ("", "")
        if prefix or suffix:
            prefix_at = text.find(prefix, cursor) if prefix else cursor
            if prefix_at < 0:
                continue
            start = prefix_at + len(prefix)
            body_at = text.find(content, start) if content else start
            end = body_at + len(content) if body_at >= 0 else start
            suffix_at = text.find(suffix, end) if suffix else -1
            if suffix_at >= 0:
                ranges.append((prefix_at, start, suffix_at, suffix_at + len(suffix), role))
                cursor = suffix_at + len(suffix)
            else:
                ranges.append((prefix_at, start, end, end, role))
                cursor = end
            continue
        start = text.find(content, cursor)
        if start < 0:
            continue
        ranges.append((start, start, start + len(content), start + len(content), role))
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


def fork_positions(
    text: str,
    variables: Mapping[str, Any],
    spans: list[tuple[int, int, str, str]],
    known: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Where in ``text`` each fork ran (its joined variable: a list of strings).

    ``known`` positions (recorded at join time) win. Otherwise the fork lies between the spans
    of the variables made before it and those made after it (a dict keeps insertion order, and
    a join inserts its variable then); inside that gap, text after the join usually starts a
    line, so the fork goes after the gap's last newline.
    """
    where = {name: start for start, _, name, _ in spans}
    ends = {name: end for _, end, name, _ in spans}
    names = list(variables)
    out: dict[str, int] = {}
    for index, name in enumerate(names):
        value = variables[name]
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            continue
        if known and name in known and 0 <= known[name] <= len(text):
            out[name] = known[name]
            continue
        after = max((ends[n] for n in names[:index] if n in ends), default=0)
        before = min((where[n] for n in names[index + 1 :] if n in where), default=len(text))
        before = max(before, after)
        newline = text.rfind("\n", after, before)
        out[name] = newline + 1 if newline >= 0 else before
    return out


def _with_forks(
    blocks: list[tuple[int, int, Block]], text_end: int, forks: Mapping[str, int]
) -> list[Block]:
    """Blocks with a fork block at each fork's position (glue text split where one falls)."""
    out: list[Block] = []
    pending = sorted(forks.items(), key=lambda item: item[1])
    for start, end, block in blocks:
        while pending and pending[0][1] <= start:
            out.append(Block(None, (), fork=pending.pop(0)[0]))
        if block.role is None and not block.open and pending and pending[0][1] < end:
            # split glue text at the fork
            cut = pending[0][1] - start
            head, tail = _split_segments(block.segments, cut)
            out.append(Block(None, head))
            out.append(Block(None, (), fork=pending.pop(0)[0]))
            out.append(Block(None, tail))
            continue
        out.append(block)
    out.extend(Block(None, (), fork=name) for name, _ in pending)
    return out


def _split_segments(
    segments: Sequence[Segment], cut: int
) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    head: list[Segment] = []
    tail: list[Segment] = []
    for segment in segments:
        size = len(segment.text)
        if cut >= size:
            head.append(segment)
        elif cut <= 0 or segment.var is not None:
            tail.append(segment)
        else:
            head.append(Segment(segment.text[:cut]))
            tail.append(Segment(segment.text[cut:]))
        cut -= size
    return tuple(head), tuple(tail)


def build_program_view(
    text: str,
    messages: Sequence[Mapping[str, Any]],
    variables: Mapping[str, Any],
    meta_info: Mapping[str, Any],
    open_role: str | None = None,
    error: object | None = None,
    templates: Sequence[tuple[str, str]] | None = None,
    open_prefix: str = "",
    known_forks: Mapping[str, int] | None = None,
) -> ProgramView:
    """Split a program's text into role blocks and labelled spans (see the module docstring).

    ``templates``: the chat template's (prefix, suffix) for each message, when known.
    ``open_prefix``: the template text that began the role still open (a streaming program), so
    ``<|im_start|>assistant`` is shown as the template marker it is, not as the answer.
    """
    ranges = _role_ranges(text, messages, templates)
    markers = [(p, s) for p, s, _, _, _ in ranges] + [(e, x) for _, _, e, x, _ in ranges]
    pos = ranges[-1][3] if ranges else 0
    open_at = text.find(open_prefix, pos) if open_role and open_prefix else -1
    if open_at >= 0:
        markers.append((open_at, open_at + len(open_prefix)))
    spans = _find_spans(text, variables, meta_info, [m for m in markers if m[0] < m[1]])
    placed: list[tuple[int, int, Block]] = []  # (start, end, block) in text order
    pos = 0
    for prefix_at, start, end, suffix_end, role in ranges:
        if prefix_at > pos:
            glue = Block(None, _segments(text, pos, prefix_at, spans, meta_info))
            placed.append((pos, prefix_at, glue))
        segments = _segments(text, start, end, spans, meta_info)
        block = Block(role, segments, prefix=text[prefix_at:start], suffix=text[end:suffix_end])
        placed.append((prefix_at, suffix_end, block))
        pos = suffix_end
    if open_at >= 0:
        if open_at > pos:
            glue = Block(None, _segments(text, pos, open_at, spans, meta_info))
            placed.append((pos, open_at, glue))
        body_at = open_at + len(open_prefix)
        segments = _segments(text, body_at, len(text), spans, meta_info)
        block = Block(open_role, segments, open=True, prefix=open_prefix)
        placed.append((open_at, len(text), block))
    elif pos < len(text) or not placed:
        segments = _segments(text, pos, len(text), spans, meta_info)
        placed.append((pos, len(text), Block(open_role, segments, open=open_role is not None)))
    forks = {
        name: tuple(str(v) for v in value)
        for name, value in variables.items()
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value)
    }
    blocks = _with_forks(placed, len(text), fork_positions(text, variables, spans, known_forks))
    empty = tuple(name for name, value in variables.items() if name in meta_info and value == "")
    return ProgramView(tuple(blocks), forks, None if error is None else repr(error), empty)
