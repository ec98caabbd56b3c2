"""The CPU engine takes the request bodies SGLang's router sends, field for field.

sglang-router 0.3.2 re-serialises every request and adds SGLang-only fields with their defaults
(captured from the router on loopback). The engine must accept them as SGLang does, and honour
the ones that change the answer (``ignore_eos``, ``max_completion_tokens``).
"""

from __future__ import annotations

import httpx
import pytest

# What the router forwarded to a worker for {"text": "hello", "sampling_params": {...}}
GENERATE = {
    "text": "hello", "model": None, "sampling_params": {"max_new_tokens": 4},
    "return_text_in_logprobs": False, "stream": False, "log_metrics": True,
    "return_hidden_states": False, "background": False, "no_logs": False,
    "return_bytes": False, "return_entropy": False,
}
# ... for a chat completion
CHAT = {
    "messages": [{"role": "user", "content": "hi"}], "model": "default", "logprobs": False,
    "max_completion_tokens": 3, "stream": False, "no_stop_trim": False, "ignore_eos": False,
    "continue_final_message": False, "skip_special_tokens": True, "separate_reasoning": True,
    "stream_reasoning": True, "return_hidden_states": False,
}
# ... for a (streamed) completion
COMPLETION = {
    "model": "default", "prompt": "hi", "max_tokens": 3, "stream": True, "echo": False,
    "no_stop_trim": False, "ignore_eos": False, "skip_special_tokens": True,
    "return_hidden_states": False,
}


@pytest.fixture(scope="module")
def http(tiny_engine) -> httpx.Client:  # noqa: ANN001 -- the session fixture's EngineServer
    with httpx.Client(base_url=tiny_engine.url, timeout=60, trust_env=False) as client:
        yield client


def test_native_generate_with_the_router_fields(http: httpx.Client) -> None:
    response = http.post("/generate", json=GENERATE)
    assert response.status_code == 200, response.text
    assert response.json()["meta_info"]["completion_tokens"] <= 4


def test_chat_with_the_router_fields_honours_max_completion_tokens(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] <= 3


def test_streamed_completion_with_the_router_fields(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/completions", json=COMPLETION) as response:
        assert response.status_code == 200
        text = "".join(response.iter_text())
    assert text.rstrip().endswith("data: [DONE]")


def test_ignore_eos_from_the_router_runs_to_the_token_limit(http: httpx.Client) -> None:
    body = {**CHAT, "ignore_eos": True, "max_completion_tokens": 12, "temperature": 0}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["usage"]["completion_tokens"] == 12
    assert data["choices"][0]["finish_reason"] == "length"
