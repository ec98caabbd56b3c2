"""protocol/sse: server-sent events from bytes split anywhere, as the openai client reads them."""

from __future__ import annotations

import json

import pytest

from sgl_notebook.protocol.sse import iter_events

PAYLOADS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"index": 0, "delta": {"content": "Hé <b>"}}]},
    {"choices": [{"index": 0, "delta": {"content": "llo\n"}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}},
]


def frame(payloads: list[dict], line_end: bytes) -> bytes:
    events = (b"data: " + json.dumps(p, ensure_ascii=False).encode() for p in payloads)
    return b"".join(e + line_end * 2 for e in events) + b"data: [DONE]" + line_end * 2


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"])
@pytest.mark.parametrize("block", [1, 3, 7, 64, 100_000])
def test_split_anywhere_gives_the_same_payloads(block: int, line_end: bytes) -> None:
    raw = frame(PAYLOADS, line_end) + b'data: {"never": "read after DONE"}\n\n'
    blocks = [raw[i : i + block] for i in range(0, len(raw), block)]
    assert list(iter_events(blocks)) == PAYLOADS


def test_comments_and_other_fields_are_not_payloads() -> None:
    raw = b": keep-alive\n\nevent: message\nid: 7\ndata: {\"a\": 1}\n\ndata: [DONE]\n\n"
    assert list(iter_events([raw])) == [{"a": 1}]
