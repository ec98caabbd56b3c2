"""The events of a ``%%sgl`` stream, whatever the endpoint: OpenAI chat and completion chunks and
SGLang's native ``/generate`` payloads all become the same small :class:`StreamEvent` sequence.

The chunks are read as plain dicts (no pydantic object per token): :func:`_sse_payloads` splits
the SSE bytes itself while the openai client still sends the request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from sgl_notebook.display.result import TokenLogprob
from sgl_notebook.magics.errors import ServerRequestError

__all__ = ["StreamEvent", "usage_dict"]


class StreamEvent(NamedTuple):
    """One step of any stream (a NamedTuple: one is built per token, so it must be cheap)."""

    sample: int = 0  # which of the --n samples
    text: str = ""
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None  # the whole request's (OpenAI's usage chunk)
    sample_usage: dict[str, Any] | None = None  # this sample's (native meta_info)


def usage_dict(usage: Any) -> dict[str, Any] | None:
    """OpenAI usage (object or dict) -> prompt/completion/total tokens and ``cached_tokens``."""
    if usage is None:
        return None
    if not isinstance(usage, dict):
        usage = usage.model_dump()
    out = {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    details = usage.get("prompt_tokens_details") or {}
    out["cached_tokens"] = details.get("cached_tokens") if isinstance(details, dict) else None
    return out


# ---------------------------------------------------------------- events per mode


def _logprob(value: Any) -> float:
    """A logprob as a float; servers send null for tokens they did not score (-inf here)."""
    return float("-inf") if value is None else float(value)


def _chat_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    content = logprobs.get("content") if logprobs else None
    if not content:
        return None
    return [
        TokenLogprob(
            t["token"],
            _logprob(t.get("logprob")),
            tuple((a["token"], _logprob(a.get("logprob"))) for a in (t.get("top_logprobs") or ())),
        )
        for t in content
    ]


def _chat_events(chunks: Iterable[dict[str, Any]]) -> Iterator[StreamEvent]:
    """Events of chat chunks as plain dicts (streamed chunks, or one whole response)."""
    for chunk in chunks:
        usage = chunk.get("usage")
        if usage is not None:
            yield StreamEvent(usage=usage_dict(usage))
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if delta is None:  # non-streamed response
                delta = choice.get("message") or {}
            logprobs = choice.get("logprobs")
            yield StreamEvent(
                choice.get("index") or 0,
                delta.get("content") or "",
                _chat_logprobs(logprobs) if logprobs else None,
                choice.get("finish_reason"),
            )


def _completion_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    if not logprobs or not logprobs.get("tokens"):
        return None
    tokens = logprobs["tokens"]
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    return [
        TokenLogprob(
            tok,
            _logprob(lp),
            tuple((str(k), _logprob(v)) for k, v in (top or {}).items()),
        )
        for tok, lp, top in zip(
            tokens, logprobs.get("token_logprobs") or [None] * len(tokens), tops, strict=False
        )
    ]


def _completion_events(chunks: Iterable[dict[str, Any]]) -> Iterator[StreamEvent]:
    for chunk in chunks:
        usage = chunk.get("usage")
        if usage is not None:
            yield StreamEvent(usage=usage_dict(usage))
        for choice in chunk.get("choices") or ():
            logprobs = choice.get("logprobs")
            yield StreamEvent(
                choice.get("index") or 0,
                choice.get("text") or "",
                _completion_logprobs(logprobs) if logprobs else None,
                choice.get("finish_reason"),
            )


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a half-read body raises in the openai client's transport (httpx or httpx2)."""
    try:
        from openai._httpx2 import request_exceptions, timeout_exceptions

        return (*timeout_exceptions(), *request_exceptions())
    except ImportError:  # pragma: no cover - older openai clients run on plain httpx
        import httpx

        return (httpx.HTTPError,)


def _sse_payloads(response: Any) -> Iterator[dict[str, Any]]:
    """JSON payloads of an OpenAI-style SSE body, without building a pydantic object per chunk.

    The openai client still sends the request (auth, ``extra_body``, status errors); only the
    per-chunk parsing is ours: split the bytes on newlines, ``json.loads`` each ``data:`` line.
    An ``{"error": ...}`` event ends the stream as :class:`openai.APIError` would.
    """
    import openai

    loads = json.loads
    errors = _transport_errors()
    pending = b""
    try:
        for block in response.iter_bytes():
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data.startswith(b"[DONE]"):
                    return
                payload = loads(data)
                if isinstance(payload, dict) and payload.get("error"):
                    error = payload["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise ServerRequestError(
                        f"The server stopped the answer: {message or 'an error while streaming'}"
                    )
                yield payload
    except errors as exc:
        raise openai.APIConnectionError(request=response.http_response.request) from exc


def _native_finish(reason: Any) -> str | None:
    if isinstance(reason, dict):
        return str(reason.get("type"))
    return None if reason is None else str(reason)


def _native_logprobs(meta: dict[str, Any], start: int) -> tuple[list[TokenLogprob], int]:
    tokens = meta.get("output_token_logprobs") or []
    tops = meta.get("output_top_logprobs") or [None] * len(tokens)
    out = [
        TokenLogprob(
            str(t[2]),
            _logprob(t[0]),
            tuple((str(a[2]), _logprob(a[0])) for a in (top or ())),
        )
        for t, top in zip(tokens[start:], tops[start:], strict=False)
    ]
    return out, len(tokens)


def _generate_events(payloads: Iterator[Any]) -> Iterator[StreamEvent]:
    """Native /generate events carry cumulative text (and logprobs): turn them into deltas."""
    seen_text: dict[int, int] = {}
    seen_logprobs: dict[int, int] = {}
    for payload in payloads:
        if isinstance(payload, dict) and "error" in payload:
            error = payload["error"]
            raise ServerRequestError(
                "The server refused the request: "
                + str(error.get("message", error) if isinstance(error, dict) else error)
            )
        meta = payload.get("meta_info", {})
        index = int(payload.get("index", 0))
        text = payload.get("text", "")
        delta = text[seen_text.get(index, 0) :]
        seen_text[index] = len(text)
        logprobs, seen_logprobs[index] = _native_logprobs(meta, seen_logprobs.get(index, 0))
        finish = _native_finish(meta.get("finish_reason"))
        usage = None
        if finish is not None:
            usage = {
                "prompt_tokens": meta.get("prompt_tokens"),
                "completion_tokens": meta.get("completion_tokens"),
                "cached_tokens": meta.get("cached_tokens"),
            }
        yield StreamEvent(index, delta, logprobs or None, finish, sample_usage=usage)


def _raise_for_native(status: int, text: str) -> None:
    if status != 200:
        try:
            message = json.loads(text).get("error", {}).get("message", text)
        except (ValueError, AttributeError):
            message = text
        raise ServerRequestError(f"The server answered {status}: {message}")
