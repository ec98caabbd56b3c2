"""Server-sent events as SGLang writes them: ``data: <compact JSON>``, ending ``data: [DONE]``.

>>> encode_event({"text": "Hi"})
b'data: {"text":"Hi"}\\n\\n'
>>> list(iter_events([b'data: {"text":"Hi"}', b'', b'data: [DONE]']))
[{'text': 'Hi'}]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

DONE = "[DONE]"
DONE_EVENT = b"data: [DONE]\n\n"


def encode_event(payload: Any) -> bytes:
    """One SSE event with compact JSON, as SGLang's ``orjson.dumps`` produces (no spaces)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return b"data: " + body + b"\n\n"


def decode_data_line(line: str | bytes) -> Any | None:
    """The JSON payload of one ``data:`` line; None for blank, comment or non-data lines.

    Returns the string ``"[DONE]"`` for the terminator so callers can stop.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8")
    line = line.rstrip("\r\n")
    if not line.startswith("data:"):
        return None
    data = line[5:].lstrip(" ")
    if data == DONE:
        return DONE
    return json.loads(data)


def iter_events(lines: Iterable[str | bytes]) -> Iterator[Any]:
    """JSON payloads from an iterable of SSE lines, stopping at ``[DONE]``."""
    for line in lines:
        payload = decode_data_line(line)
        if payload is None:
            continue
        if payload == DONE:
            return
        yield payload
