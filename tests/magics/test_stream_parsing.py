"""The streaming path of %%sgl without a server: SSE bytes -> dict payloads -> events.

The chunks are parsed as plain dicts (no pydantic object per token); these pin that the parse
is the same as the openai client's whatever way the bytes are split, and that an error event
ends the stream with a one-line error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sgl_notebook.magics.cell_runner import (
    StreamEvent,
    _chat_events,
    _completion_events,
    _sse_payloads,
)
from sgl_notebook.magics.errors import ServerRequestError


class FakeResponse:
    """What _sse_payloads reads: ``iter_bytes()`` and ``http_response.request``."""

    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks
        self.http_response = type("R", (), {"request": None})()

    def iter_bytes(self) -> Any:
        yield from self.blocks


def _sse(payloads: list[Any]) -> bytes:
    return (
        b"".join(
            b"data: " + json.dumps(p, ensure_ascii=False).encode() + b"\r\n\r\n" for p in payloads
        )
        + b"data: [DONE]\n\n"
    )


def _chunk(text: str | None, index: int = 0, finish: str | None = None, **extra: Any) -> dict:
    delta = {} if text is None else {"content": text}
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
        **extra,
    }


PAYLOADS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}], "usage": None},
    _chunk("Hé <b>"),
    _chunk("llo\n"),
    _chunk("wörld", finish="stop"),
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 3,
            "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 2},
        },
    },
]


@pytest.mark.parametrize("block", [1, 3, 7, 64, 100_000])
def test_sse_split_anywhere_gives_the_same_payloads(block):
    raw = _sse(PAYLOADS) + b'data: {"never": "read after DONE"}\n\n'
    blocks = [raw[i : i + block] for i in range(0, len(raw), block)]
    assert list(_sse_payloads(FakeResponse(blocks))) == PAYLOADS


def test_chat_events_from_dicts():
    events = list(_chat_events(PAYLOADS))
    assert "".join(e.text for e in events) == "Hé <b>llo\nwörld"
    assert [e.finish_reason for e in events if e.finish_reason] == ["stop"]
    usage = next(e.usage for e in events if e.usage)
    assert usage == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
        "cached_tokens": 2,
    }


def test_chat_logprobs_and_a_whole_response():
    chunk = _chunk("Hi")
    chunk["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.1,
                "top_logprobs": [
                    {"token": "Hi", "logprob": -0.1},
                    {"token": "Yo", "logprob": None},
                ],
            }
        ]
    }
    (event,) = list(_chat_events([chunk]))
    (lp,) = event.logprobs
    assert (lp.token, lp.logprob) == ("Hi", -0.1)
    assert lp.top == (("Hi", -0.1), ("Yo", float("-inf")))
    whole = {"choices": [{"index": 1, "message": {"content": "all"}, "finish_reason": "length"}]}
    assert list(_chat_events([whole])) == [StreamEvent(1, "all", None, "length")]


def test_completion_events_from_dicts():
    chunk = {
        "choices": [
            {
                "index": 0,
                "text": "ab",
                "finish_reason": None,
                "logprobs": {
                    "tokens": ["a", "b"],
                    "token_logprobs": [-0.5, None],
                    "top_logprobs": [{"a": -0.5}, {"b": -1.0, "c": -2.0}],
                },
            }
        ]
    }
    (event,) = list(_completion_events([chunk]))
    assert event.text == "ab"
    assert [(t.token, t.logprob) for t in event.logprobs] == [("a", -0.5), ("b", float("-inf"))]
    assert event.logprobs[1].top == (("b", -1.0), ("c", -2.0))


def test_an_error_event_ends_the_stream_with_its_message():
    raw = _sse([_chunk("a"), {"error": {"message": "boom", "code": 500}}])
    payloads = _sse_payloads(FakeResponse([raw]))
    assert next(payloads)["choices"][0]["delta"]["content"] == "a"
    with pytest.raises(ServerRequestError, match="The server stopped the answer: boom"):
        next(payloads)
