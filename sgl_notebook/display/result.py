"""What a ``%%sgl`` cell (or ``-o VAR``) gives back: :class:`SglResult`, plus its card rendering.

>>> r = SglResult(text="Paris", finish_reason="stop", usage={"completion_tokens": 1})
>>> str(r), r.finish_reason
('Paris', 'stop')
>>> "Paris" in r._repr_mimebundle_()["text/html"]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sgl_notebook.display.html_builders import card, esc, kv_line, style
from sgl_notebook.display.markdown import to_html

__all__ = [
    "SglResult",
    "TokenLogprob",
    "logprob_spans_html",
    "logprob_tokens_html",
    "result_stats",
]


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its logprob and the top alternatives ``(token, logprob)``."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass
class SglResult:
    """The outcome of one sample of a ``%%sgl`` cell.

    ``text`` is the answer (partial if interrupted), ``json`` the parsed answer when a JSON
    schema was given, ``usage`` the server's token counts (``prompt_tokens``,
    ``completion_tokens``, ``cached_tokens``), ``ttft`` the time to first token in seconds and
    ``tokens_per_s`` the decode rate seen by the client.
    """

    text: str
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    ttft: float | None = None
    tokens_per_s: float | None = None
    json: Any = None
    logprobs: list[TokenLogprob] | None = None
    index: int = 0
    rid: str | None = None
    server: str | None = None
    model: str | None = None
    elapsed: float | None = None
    interrupted: bool = False
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text

    @property
    def tokens(self) -> int | None:
        """Completion tokens (the server's count when it sent usage)."""
        if self.usage and self.usage.get("completion_tokens") is not None:
            return int(self.usage["completion_tokens"])
        return None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": result_text(self), "text/html": result_card_html(self)}


def result_stats(result: SglResult) -> list[tuple[str, object]]:
    """The figures shown under an answer, in order; None values are skipped by the renderer."""
    usage = result.usage or {}
    finish = "interrupted" if result.interrupted else result.finish_reason
    return [
        ("tokens", result.tokens if result.tokens is not None else usage.get("completion_tokens")),
        ("tok/s", None if result.tokens_per_s is None else f"{result.tokens_per_s:.1f}"),
        ("TTFT", None if result.ttft is None else f"{result.ttft * 1000:.0f} ms"),
        ("prompt", usage.get("prompt_tokens")),
        ("cached", usage.get("cached_tokens")),
        ("finish", finish),
        ("server", result.server),
    ]


def result_text(result: SglResult) -> str:
    """Plain text: the answer, then one line of figures."""
    figures = " · ".join(f"{k}: {v}" for k, v in result_stats(result) if v is not None)
    return f"{result.text}\n[{figures}]" if figures else result.text


def _prob_color(logprob: float) -> str:
    # red (unlikely) -> green (likely), translucent so it reads on light and dark themes
    p = math.exp(logprob) if math.isfinite(logprob) else 0.0
    return f"hsla({round(120 * p)},75%,50%,0.35)"


def logprob_spans_html(tokens: list[TokenLogprob]) -> str:
    """The coloured spans of :func:`logprob_tokens_html`, without the wrapper."""
    out = []
    for t in tokens:
        p = math.exp(t.logprob) if math.isfinite(t.logprob) else 0.0
        alts = ", ".join(f"{tok!r} {math.exp(lp):.2f}" for tok, lp in t.top)
        title = f"p={p:.3f}" + (f" | top: {alts}" if alts else "")
        css = style(background=_prob_color(t.logprob), border_radius="2px")
        out.append(
            f'<span class="sgl-tok" style="{css}" title="{esc(title)}">{esc(t.token)}</span>'
        )
    return "".join(out)


def logprob_tokens_html(tokens: list[TokenLogprob]) -> str:
    """Each token coloured by its probability; hover shows it and the top alternatives."""
    body = logprob_spans_html(tokens)
    return f'<div style="white-space:pre-wrap;line-height:1.6">{body}</div>'


def answer_html(result: SglResult) -> str:
    """The body of a finished answer: coloured tokens, pretty JSON, or Markdown."""
    if result.error:
        return f'<div style="color:#dc2626">{esc(result.error)}</div>'
    if result.logprobs:
        return logprob_tokens_html(result.logprobs)
    if result.json is not None:
        import json as _json

        pretty = _json.dumps(result.json, indent=2, ensure_ascii=False)
        return f'<pre style="white-space:pre-wrap;margin:0">{esc(pretty)}</pre>'
    return f'<div class="sgl-md">{to_html(result.text)}</div>'


def result_card_html(result: SglResult, title: str | None = None) -> str:
    """A card: the answer rendered, and its figures below."""
    heading = title or (f"sample {result.index}" if result.index else "answer")
    if result.model:
        heading += f" · {result.model}"
    accent = "#f59e0b" if result.interrupted else ("#dc2626" if result.error else "#10b981")
    return card(esc(heading), answer_html(result), kv_line(result_stats(result)), accent=accent)
