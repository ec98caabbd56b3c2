"""SglClient over an injected transport: payload shapes, SSE streaming, API key, errors."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from sgl_notebook.client import ServerHTTPError, SglClient
from sgl_notebook.protocol.sse import DONE_EVENT, encode_event

SEEN: list[httpx.Request] = []


def handler(request: httpx.Request) -> httpx.Response:
    SEEN.append(request)
    if request.headers.get("authorization") != "Bearer key":
        return httpx.Response(401, json={"error": "Unauthorized"})
    body = json.loads(request.content or b"{}")
    path = request.url.path
    if path == "/generate" and body.get("stream"):
        events = [encode_event({"text": t, "meta_info": {}}) for t in ("Pa", "Par", "Paris")]
        return httpx.Response(200, content=b"".join(events) + DONE_EVENT,
                              headers={"content-type": "text/event-stream"})
    if path == "/generate":
        return httpx.Response(200, json={"text": "Paris", "meta_info": {
            "prompt_tokens": 5, "completion_tokens": 1, "finish_reason": {"type": "length"}}})
    if path == "/v1/chat/completions" and body.get("stream"):
        chunks = [encode_event({"choices": [{"index": 0, "delta": {"content": c}}]})
                  for c in ("Hel", "lo")]
        return httpx.Response(200, content=b"".join(chunks) + DONE_EVENT)
    if path == "/v1/chat/completions":
        return httpx.Response(200, json={"model": "m", "usage": {"completion_tokens": 2},
                                         "choices": [{"message": {"content": "Hello"},
                                                      "finish_reason": "stop"}]})
    if path == "/get_model_info":
        return httpx.Response(404, json={"detail": "Not Found"})
    if path == "/model_info":
        return httpx.Response(200, json={"model_path": "m"})
    if path == "/health":
        return httpx.Response(200)
    if path == "/abort_request":
        return httpx.Response(200)
    return httpx.Response(404)


@pytest.fixture
def client() -> SglClient:
    SEEN.clear()
    return SglClient("http://server:30000", api_key="key", transport=httpx.MockTransport(handler),
                     async_transport=httpx.MockTransport(handler))


def test_generate_puts_sampling_keys_in_sampling_params(client: SglClient) -> None:
    result = client.generate("The capital", max_new_tokens=8, temperature=0, return_logprob=True)
    assert result.text == "Paris" and result.finish_reason == "length"
    assert result.usage == {"prompt_tokens": 5, "completion_tokens": 1}
    payload = json.loads(SEEN[-1].content)
    assert payload == {"text": "The capital", "return_logprob": True,
                       "sampling_params": {"max_new_tokens": 8, "temperature": 0}}


def test_streaming_yields_deltas_of_cumulative_text(client: SglClient) -> None:
    assert list(client.generate("x", stream=True)) == ["Pa", "r", "is"]
    assert list(client.chat("hi", stream=True)) == ["Hel", "lo"]


def test_chat_and_fallback_routes(client: SglClient) -> None:
    answer = client.chat("hi", system="be brief", max_tokens=4)
    assert answer.text == "Hello" and answer.finish_reason == "stop"
    payload = json.loads(SEEN[-1].content)
    assert payload["messages"][0] == {"role": "system", "content": "be brief"}
    assert payload["max_tokens"] == 4
    assert client.model_info() == {"model_path": "m"}  # /get_model_info 404 -> /model_info
    assert client.health()
    client.abort("rid-1")
    assert json.loads(SEEN[-1].content) == {"rid": "rid-1", "abort_all": False}


def test_async_generate_and_stream(client: SglClient) -> None:
    async def go() -> tuple[str, list[str]]:
        result = await client.agenerate("x", max_new_tokens=1)
        deltas = [d async for d in client.agenerate_stream("x")]
        return result.text, deltas

    assert asyncio.run(go()) == ("Paris", ["Pa", "r", "is"])


def test_wrong_key_is_a_clear_error() -> None:
    keyless = SglClient("http://server:30000", api_key="wrong",
                        transport=httpx.MockTransport(handler))
    with pytest.raises(ServerHTTPError, match="HTTP 401 .wrong or missing API key"):
        keyless.generate("x")
    with pytest.raises(ServerHTTPError) as caught:
        list(keyless.generate("x", stream=True))
    assert caught.value.status == 401
