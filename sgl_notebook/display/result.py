"""What a ``%%sgl`` cell (or ``-o VAR``) gives back: :class:`SglResult`, plus its card rendering.

>>> r = SglResult(text="Paris", finish_reason="stop", usage={"completion_tokens": 1})
>>> str(r), r.finish_reason
('Paris', 'stop')
>>> "Paris" in r._repr_mimebundle_()["text/html"]
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sgl_notebook.display.html_builders import card, esc, kv_line
from sgl_notebook.display.logprobs import TokenLogprob, logprob_spans_html, logprob_tokens_html
from sgl_notebook.display.markdown import to_html

__all__ = [
    "SglResult",
    "TokenLogprob",
    "logprob_spans_html",
    "logprob_tokens_html",
    "result_stats",
]


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
    prompt, cached = usage.get("prompt_tokens"), usage.get("cached_tokens")
    if cached is not None and prompt is not None and cached > prompt:
        cached = None  # a request-wide sum over samples, not this answer's (never > prompt)
    # without a stream the first token came with the last: that wait is latency, not TTFT
    latency = result.elapsed if result.ttft is None and result.elapsed is not None else None
    return [
        ("tokens", result.tokens if result.tokens is not None else usage.get("completion_tokens")),
        ("tok/s", None if result.tokens_per_s is None else f"{result.tokens_per_s:.1f}"),
        ("TTFT", None if result.ttft is None else f"{result.ttft * 1000:.0f} ms"),
        ("latency", None if latency is None else f"{latency * 1000:.0f} ms"),
        ("prompt", prompt),
        ("cached", cached),
        ("finish", finish),
        ("server", result.server),
    ]


def result_text(result: SglResult) -> str:
    """Plain text: the answer, then one line of figures."""
    figures = " · ".join(f"{k}: {v}" for k, v in result_stats(result) if v is not None)
    return f"{result.text}\n[{figures}]" if figures else result.text


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
    heading = title or "answer"
    if result.model:
        heading += f" · {result.model}"
    accent = "#f59e0b" if result.interrupted else ("#dc2626" if result.error else "#10b981")
    return card(esc(heading), answer_html(result), kv_line(result_stats(result)), accent=accent)
