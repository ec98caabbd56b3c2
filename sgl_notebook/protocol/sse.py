"""Server-sent events as SGLang writes them: ``data: <compact JSON>``, ending ``data: [DONE]``.

:class:`EventDecoder` reads a body as it arrives, in byte chunks split anywhere; the JSON
payloads come out as plain values (no object per chunk: one is parsed per token).

>>> encode_event({"text": "Hi"})
b'data: {"text":"Hi"}\\n\\n'
>>> list(iter_events([b'data: {"te', b'xt":"Hi"}\\r\\n\\n: a comment\\n', b"data: [DONE]\\n\\n"]))
[{'text': 'Hi'}]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

__all__ = [
    "DONE",
    "DONE_EVENT",
    "EventDecoder",
    "aiter_events",
    "decode_data_line",
    "encode_event",
    "iter_events",
]

DONE = "[DONE]"
DONE_EVENT = b"data: [DONE]\n\n"
_DONE = DONE.encode()


def encode_event(payload: Any) -> bytes:
    """One SSE event with compact JSON, as SGLang's ``orjson.dumps`` produces (no spaces)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return b"data: " + body + b"\n\n"


def decode_data_line(line: str | bytes) -> Any | None:
    """The JSON payload of one ``data:`` line; None for blank, comment or non-data lines.

    Returns the string ``"[DONE]"`` for the terminator so callers can stop.
    """
    if isinstance(line, str):
        line = line.encode()
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    return DONE if data == _DONE else json.loads(data)


class EventDecoder:
    """Byte chunks in, JSON payloads out; :attr:`done` once ``[DONE]`` has been read."""

    __slots__ = ("_pending", "done")

    def __init__(self) -> None:
        self._pending = b""
        self.done = False

    def feed(self, chunk: bytes) -> list[Any]:
        """The payloads that ``chunk`` completes (none after ``[DONE]``)."""
        if self.done:
            return []
        lines = (self._pending + chunk).split(b"\n") if self._pending else chunk.split(b"\n")
        self._pending = lines.pop()
        payloads = []
        for line in lines:
            payload = decode_data_line(line)
            if payload is None:
                continue
            if payload is DONE:
                self.done = True
                break
            payloads.append(payload)
        return payloads


def iter_events(chunks: Iterable[bytes]) -> Iterator[Any]:
    """JSON payloads from a body's byte chunks, stopping at ``[DONE]``."""
    decoder = EventDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
        if decoder.done:
            return


async def aiter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[Any]:
    """:func:`iter_events` for an async body."""
    decoder = EventDecoder()
    async for chunk in chunks:
        for payload in decoder.feed(chunk):
            yield payload
        if decoder.done:
            return
