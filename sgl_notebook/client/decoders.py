"""One answer, whatever the endpoint, as the same small :class:`StreamEvent` sequence.

OpenAI chat and completion chunks (or whole answers) and SGLang's native ``/generate`` payloads
(cumulative text and logprobs per sample) all become events with a text *delta*. Payloads are
read as plain dicts: no object is built per chunk beyond the event itself.

>>> answer = Answer("generate")
>>> [e.text for p in ({"text": "Pa"}, {"text": "Paris"}) for e in answer.events(p)]
['Pa', 'ris']
>>> list(decode("chat", [{"choices": [{"index": 0, "delta": {"content": "Hi"}}]}]))
[StreamEvent(sample=0, text='Hi', logprobs=None, finish_reason=None, usage=None, sample_usage=None)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from sgl_notebook.client.errors import ServerStreamError
from sgl_notebook.protocol.logprobs import (
    TokenLogprob,
    chat_logprobs,
    completion_logprobs,
    native_logprobs,
)

__all__ = [
    "ENDPOINTS",
    "Answer",
    "GenerateEvents",
    "StreamEvent",
    "chat_events",
    "completion_events",
    "decode",
    "usage_dict",
]

Decode = Callable[[Any], Iterable["StreamEvent"]]


class StreamEvent(NamedTuple):
    """One step of any answer (a NamedTuple: one is built per token, so it must be cheap)."""

    sample: int = 0  # which of the n samples
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


def chat_events(chunk: dict[str, Any]) -> Iterator[StreamEvent]:
    """The events of one chat chunk (or of a whole chat answer: its choices carry ``message``)."""
    usage = chunk.get("usage")
    if usage is not None:
        yield StreamEvent(usage=usage_dict(usage))
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if delta is None:  # a whole answer
            delta = choice.get("message") or {}
        logprobs = choice.get("logprobs")
        yield StreamEvent(
            choice.get("index") or 0,
            delta.get("content") or "",
            chat_logprobs(logprobs) if logprobs else None,
            choice.get("finish_reason"),
        )


def completion_events(chunk: dict[str, Any]) -> Iterator[StreamEvent]:
    """The events of one completion chunk (or of a whole completion answer)."""
    usage = chunk.get("usage")
    if usage is not None:
        yield StreamEvent(usage=usage_dict(usage))
    for choice in chunk.get("choices") or ():
        logprobs = choice.get("logprobs")
        yield StreamEvent(
            choice.get("index") or 0,
            choice.get("text") or "",
            completion_logprobs(logprobs) if logprobs else None,
            choice.get("finish_reason"),
        )


def _native_finish(reason: Any) -> str | None:
    if isinstance(reason, dict):
        return str(reason.get("type"))
    return None if reason is None else str(reason)


class GenerateEvents:
    """Native ``/generate`` payloads carry cumulative text and logprobs: turn them into deltas."""

    def __init__(self) -> None:
        self._text: dict[int, int] = {}
        self._logprobs: dict[int, int] = {}

    def __call__(self, payload: Any) -> Iterator[StreamEvent]:
        if isinstance(payload, list):  # a whole batch answer (n > 1): samples in order
            for index, item in enumerate(payload):
                yield from self({"index": index, **item})
            return
        meta = payload.get("meta_info", {})
        index = int(payload.get("index", 0))
        text = payload.get("text", "")
        delta = text[self._text.get(index, 0) :]
        self._text[index] = len(text)
        logprobs, self._logprobs[index] = native_logprobs(meta, self._logprobs.get(index, 0))
        finish = _native_finish(meta.get("finish_reason"))
        usage = None
        if finish is not None:
            usage = {
                "prompt_tokens": meta.get("prompt_tokens"),
                "completion_tokens": meta.get("completion_tokens"),
                "cached_tokens": meta.get("cached_tokens"),
            }
        yield StreamEvent(index, delta, logprobs or None, finish, sample_usage=usage)


# endpoint name -> (path, a new decoder for one answer)
ENDPOINTS: dict[str, tuple[str, Callable[[], Decode]]] = {
    "chat": ("/v1/chat/completions", lambda: chat_events),
    "completions": ("/v1/completions", lambda: completion_events),
    "generate": ("/generate", GenerateEvents),
}
_BY_PATH = {path: name for name, (path, _) in ENDPOINTS.items()}


class Answer:
    """One answer's payloads -> events. An error event raises :class:`ServerStreamError`.

    ``endpoint`` is ``"chat"``, ``"completions"`` or ``"generate"`` (or its path).
    """

    __slots__ = ("_decode", "path", "started")

    def __init__(self, endpoint: str) -> None:
        name = _BY_PATH.get(endpoint, endpoint)
        if name not in ENDPOINTS:
            raise ValueError(
                f"Unknown endpoint {endpoint!r}: SglClient streams "
                + ", ".join(f"{n!r} ({p})" for n, (p, _) in ENDPOINTS.items())
                + "."
            )
        self.path, make = ENDPOINTS[name]
        self._decode = make()
        self.started = False  # whether any payload of the answer has arrived

    def events(self, payload: Any) -> Iterable[StreamEvent]:
        """The events of one payload (a streamed chunk or a whole answer)."""
        if type(payload) is dict and payload.get("error") is not None:
            raise ServerStreamError(payload["error"], started=self.started)
        self.started = True
        return self._decode(payload)


def decode(endpoint: str, payloads: Iterable[Any]) -> Iterator[StreamEvent]:
    """The events of an answer's payloads (see :class:`Answer`)."""
    answer = Answer(endpoint)
    for payload in payloads:
        yield from answer.events(payload)
