"""``SglClient.stream`` / ``astream`` against the real CPU engine (tiny model): the three
endpoints, streamed and whole, sync and async, and one clear error for each kind of bad input."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sgl_notebook.client import (
    ServerConnectionError,
    ServerHTTPError,
    ServerStreamError,
    SglClient,
    StreamEvent,
)
from tests.fixtures.engine_servers import free_port, start_engine

PROMPT = "Once upon a time"
TOKENS = 8
BODIES: dict[str, dict[str, Any]] = {
    "chat": {
        "model": "tiny",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": TOKENS,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 2,
        "stream_options": {"include_usage": True},
    },
    "completions": {
        "model": "tiny",
        "prompt": PROMPT,
        "max_tokens": TOKENS,
        "temperature": 0,
        "logprobs": 2,
        "stream_options": {"include_usage": True},
    },
    "generate": {
        "text": PROMPT,
        "sampling_params": {"max_new_tokens": TOKENS, "temperature": 0},
        "return_logprob": True,
        "top_logprobs_num": 2,
        "return_text_in_logprobs": True,
    },
}
PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions", "generate": "/generate"}


@pytest.fixture(scope="module")
def client(tiny_engine) -> Iterator[SglClient]:
    with SglClient(tiny_engine.url) as sgl_client:
        yield sgl_client


def _summary(events: list[StreamEvent]) -> tuple[str, list[str], int, int]:
    """Text, finish reasons, completion tokens (the usage event's or the sample's), logprobs."""
    text = "".join(e.text for e in events)
    finish = [e.finish_reason for e in events if e.finish_reason]
    usage = next(u for e in events for u in (e.usage, e.sample_usage) if u)
    logprobs = sum(len(e.logprobs or ()) for e in events)
    return text, finish, usage["completion_tokens"], logprobs


def _server_text(url: str, endpoint: str) -> str:
    """The same request's answer read with plain httpx, not streamed."""
    data = httpx.post(url + PATHS[endpoint], json=BODIES[endpoint], timeout=120).json()
    if endpoint == "generate":
        return str(data["text"])
    choice = data["choices"][0]
    return str(choice["message"]["content"] if endpoint == "chat" else choice["text"])


@pytest.mark.parametrize("endpoint", list(BODIES))
def test_each_endpoint_streams_the_servers_answer_token_by_token(client, tiny_engine, endpoint):
    streamed = list(client.stream(endpoint, BODIES[endpoint]))
    whole = list(client.stream(PATHS[endpoint], {**BODIES[endpoint], "stream": False}))
    assert sum(1 for e in streamed if e.text) > 1  # deltas as they came, not one block
    assert sum(1 for e in whole if e.text) == 1
    text, finish, tokens, logprobs = _summary(streamed)
    assert (finish, tokens, logprobs) == (["length"], TOKENS, TOKENS)
    assert text == _server_text(tiny_engine.url, endpoint)
    assert _summary(whole) == _summary(streamed)
    top = next(e.logprobs[0].top for e in streamed if e.logprobs)
    assert len(top) == 2 and all(isinstance(lp, float) for _, lp in top)


@pytest.mark.parametrize("endpoint", list(BODIES))
def test_astream_gives_what_stream_gives(client, endpoint):
    async def collect() -> list[StreamEvent]:
        return [event async for event in client.astream(endpoint, BODIES[endpoint])]

    events = asyncio.run(collect())
    assert sum(1 for e in events if e.text) > 1
    assert _summary(events) == _summary(list(client.stream(endpoint, BODIES[endpoint])))


def test_samples_stream_side_by_side_with_their_own_deltas(client):
    body = {"text": PROMPT, "sampling_params": {"max_new_tokens": TOKENS, "n": 2}}
    events = list(client.stream("generate", body))
    assert {e.sample for e in events} == {0, 1}
    for sample in (0, 1):
        finishes = [e.finish_reason for e in events if e.sample == sample and e.finish_reason]
        assert finishes == ["length"]
        usage = next(e.sample_usage for e in events if e.sample == sample and e.sample_usage)
        assert usage["completion_tokens"] == TOKENS


def test_an_unknown_endpoint_is_refused_before_anything_is_sent(client, tiny_engine):
    before = len(tiny_engine.log_lines())
    known = "Unknown endpoint 'embeddings': SglClient streams 'chat' .*'generate' \\(/generate\\)"
    with pytest.raises(ValueError, match=known):
        client.stream("embeddings", {"input": "x"})
    assert not any("POST" in line for line in tiny_engine.log_lines()[before:])


def test_an_error_status_carries_the_servers_message(client):
    too_long = {**BODIES["chat"], "max_tokens": 100_000, "stream": False}
    with pytest.raises(ServerHTTPError) as caught:
        list(client.stream("chat", too_long))
    assert caught.value.status == 400
    assert caught.value.message.startswith("Requested token count exceeds the model's maximum")
    assert client.health()  # the client and the server carry on


@pytest.mark.parametrize("endpoint", list(BODIES))
def test_an_error_event_instead_of_an_answer_is_a_refusal(client, endpoint):
    if endpoint == "generate":
        too_long = {**BODIES[endpoint], "sampling_params": {"max_new_tokens": 100_000}}
    else:
        too_long = {**BODIES[endpoint], "max_tokens": 100_000}
    with pytest.raises(ServerStreamError) as caught:
        list(client.stream(endpoint, too_long))
    assert str(caught.value).startswith("The server refused the request: ")
    assert "context length" in caught.value.message and not caught.value.started


def test_a_server_nobody_listens_on_cannot_be_reached():
    url = f"http://127.0.0.1:{free_port()}"
    with SglClient(url) as nowhere, pytest.raises(ServerConnectionError) as caught:
        list(nowhere.stream("generate", BODIES["generate"]))
    assert not caught.value.started
    assert str(caught.value).startswith(f"{url} cannot be reached (")

    async def collect() -> None:
        async for _ in SglClient(url).astream("chat", BODIES["chat"]):
            pass

    with pytest.raises(ServerConnectionError, match="cannot be reached"):
        asyncio.run(collect())


def test_a_server_that_dies_mid_stream_is_a_clear_error(tiny_model_dir, tmp_path):
    body = {
        "text": "Write a very long essay",
        "sampling_params": {"max_new_tokens": 1500, "ignore_eos": True},
    }
    with start_engine(str(tiny_model_dir), log_dir=tmp_path) as engine, SglClient(
        engine.url
    ) as doomed:
        events = doomed.stream("generate", body)
        first = next(e for e in events if e.text)
        assert first.text
        os.killpg(engine.process.pid, signal.SIGKILL)
        with pytest.raises(ServerConnectionError) as caught:
            for _ in events:
                pass
        engine.process.wait(30)
    assert caught.value.started
    assert "closed the connection before the answer ended" in str(caught.value)
