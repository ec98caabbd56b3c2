"""The streaming path without a server: dict payloads (from protocol/sse) -> events.

The chunks are read as plain dicts (no pydantic object per token); these pin that each
endpoint's payloads become the same events, and that an error event ends the stream with a
one-line error. SSE framing itself is tested in tests/protocol/test_sse.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sgl_notebook.client import ServerStreamError, StreamEvent
from sgl_notebook.client.decoders import Answer, decode
from sgl_notebook.protocol.sse import iter_events


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


def test_chat_events_from_dicts():
    events = list(decode("chat", PAYLOADS))
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
    (event,) = list(decode("chat", [chunk]))
    (lp,) = event.logprobs
    assert (lp.token, lp.logprob) == ("Hi", -0.1)
    assert lp.top == (("Hi", -0.1), ("Yo", float("-inf")))
    whole = {"choices": [{"index": 1, "message": {"content": "all"}, "finish_reason": "length"}]}
    assert list(decode("chat", [whole])) == [StreamEvent(1, "all", None, "length")]


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
    (event,) = list(decode("completions", [chunk]))
    assert event.text == "ab"
    assert [(t.token, t.logprob) for t in event.logprobs] == [("a", -0.5), ("b", float("-inf"))]
    assert event.logprobs[1].top == (("b", -1.0), ("c", -2.0))


def test_an_error_event_ends_the_stream_with_its_message():
    raw = _sse([_chunk("a"), {"error": {"message": "boom", "code": 500}}])
    events = decode("chat", iter_events([raw]))
    assert next(events).text == "a"
    with pytest.raises(ServerStreamError, match="The server stopped the answer: boom"):
        next(events)


def test_native_payloads_become_deltas_per_sample_with_their_own_counts():
    meta = {"prompt_tokens": 4, "completion_tokens": 2, "cached_tokens": 1}
    payloads = [
        {"index": 0, "text": "Pa", "meta_info": {"output_token_logprobs": [[-0.5, 7, "Pa"]]}},
        {"index": 1, "text": "Lo", "meta_info": {}},
        {
            "index": 0,
            "text": "Paris",
            "meta_info": {
                "output_token_logprobs": [[-0.5, 7, "Pa"], [-0.25, 8, "ris"]],
                "output_top_logprobs": [None, [[-0.25, 8, "ris"], [None, 9, "rts"]]],
                "finish_reason": {"type": "length", "length": 2},
                **meta,
            },
        },
        {"index": 1, "text": "London", "meta_info": {"finish_reason": "stop", **meta}},
    ]
    events = list(decode("generate", payloads))
    assert [(e.sample, e.text) for e in events] == [(0, "Pa"), (1, "Lo"), (0, "ris"), (1, "ndon")]
    assert [e.finish_reason for e in events] == [None, None, "length", "stop"]
    assert events[2].sample_usage == meta and events[0].sample_usage is None
    (new_token,) = events[2].logprobs  # only the token the payload adds
    assert new_token.token == "ris" and new_token.top == (("ris", -0.25), ("rts", float("-inf")))


def test_a_whole_native_batch_answer_is_numbered_in_order():
    whole = [{"text": "a", "meta_info": {"finish_reason": "stop"}}, {"text": "b", "meta_info": {}}]
    events = list(decode("generate", [whole]))
    assert [(e.sample, e.text, e.finish_reason) for e in events] == [
        (0, "a", "stop"),
        (1, "b", None),
    ]


def test_a_native_error_event_before_any_text_is_a_refusal():
    events = decode("/generate", [{"error": {"message": "Invalid grammar"}}])
    refusal = "^The server refused the request: Invalid grammar$"
    with pytest.raises(ServerStreamError, match=refusal):
        next(events)


def test_an_unknown_endpoint_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown endpoint 'embeddings': SglClient streams 'chat'"):
        Answer("embeddings")
