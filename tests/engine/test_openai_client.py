"""The real ``openai`` client against a real engine (tiny model)."""

from __future__ import annotations

import json
import re

import openai
import pytest
import requests

HEX32 = re.compile(r"^[0-9a-f]{32}$")
CHAT = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(tiny_engine):
    return openai.OpenAI(base_url=tiny_engine.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return str(tiny_model_dir)


def test_models_list_and_retrieve(client, model):
    assert [m.id for m in client.models.list()] == [model]
    card = client.models.retrieve(model)
    assert card.owned_by == "sglang"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("not-this-one")


def test_chat_completion_uses_the_chat_template(client, model, tiny_engine):
    resp = client.chat.completions.create(model=model, messages=CHAT, max_tokens=6, temperature=0)
    assert HEX32.match(resp.id) and resp.object == "chat.completion"
    choice = resp.choices[0]
    assert choice.message.role == "assistant" and choice.finish_reason == "length"
    assert resp.usage.completion_tokens == 6
    # Same tokens as /generate on the template-rendered prompt.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    prompt = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    native = requests.post(tiny_engine.url + "/generate", timeout=60, json={
        "text": prompt, "sampling_params": {"temperature": 0, "max_new_tokens": 6}}).json()
    assert choice.message.content == native["text"]
    assert resp.usage.prompt_tokens == native["meta_info"]["prompt_tokens"]


def test_chat_stream_chunk_order_and_usage(client, model):
    plain = client.chat.completions.create(model=model, messages=CHAT, max_tokens=5, temperature=0)
    chunks = list(client.chat.completions.create(
        model=model, messages=CHAT, max_tokens=5, temperature=0, stream=True,
        stream_options={"include_usage": True},
    ))
    first, *middle, finish, usage = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert all(c.choices[0].finish_reason is None for c in middle)
    assert "".join(c.choices[0].delta.content for c in middle) == plain.choices[0].message.content
    assert finish.choices[0].finish_reason == "length" and finish.choices[0].delta.content is None
    assert usage.choices == [] and usage.usage.completion_tokens == 5
    assert len({c.id for c in chunks}) == 1 and HEX32.match(first.id)


def test_completion_stream_finishes_on_last_content_chunk(client, model):
    chunks = list(client.completions.create(
        model=model, prompt="the river", max_tokens=4, temperature=0, stream=True,
        stream_options={"include_usage": True},
    ))
    content, usage = chunks[:-1], chunks[-1]
    assert 1 <= len(content) <= 4  # pending updates are coalesced, as in SGLang
    assert [c.choices[0].finish_reason for c in content[:-1]] == [None] * (len(content) - 1)
    assert content[-1].choices[0].finish_reason == "length"
    assert usage.usage.total_tokens == usage.usage.prompt_tokens + 4
    plain = client.completions.create(model=model, prompt="the river", max_tokens=4, temperature=0)
    assert "".join(c.choices[0].text for c in content) == plain.choices[0].text


def test_completion_n_echo_stop_and_matched_stop(client, model):
    plain = client.completions.create(model=model, prompt="the city", max_tokens=10, temperature=0)
    text = plain.choices[0].text
    stop = text[2:5]
    resp = client.completions.create(model=model, prompt="the city", max_tokens=10,
                                     temperature=0, stop=[stop], n=2, echo=True)
    assert len(resp.choices) == 2
    for choice in resp.choices:
        assert choice.text == "the city" + text[: text.index(stop)]
        assert choice.finish_reason == "stop"
        assert choice.model_extra["matched_stop"] == stop
    # Prompt tokens are counted once per prompt.
    assert resp.usage.prompt_tokens == plain.usage.prompt_tokens


def test_json_schema_response_format_constrains_the_output(client, model):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"},
                                               "n": {"type": "integer", "enum": [1, 2, 3]}},
              "required": ["ok", "n"], "additionalProperties": False}
    resp = client.chat.completions.create(
        model=model, messages=CHAT, max_tokens=40, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    )
    text = resp.choices[0].message.content
    # A random tiny model may spend its tokens on the whitespace JSON allows (xgrammar's
    # default, as in SGLang): what it wrote must still be a prefix of a valid document.
    compact = "".join(text.split())
    valid = [json.dumps({"ok": ok, "n": n}, separators=(",", ":"))
             for ok in (True, False) for n in (1, 2, 3)]
    assert compact and any(v.startswith(compact) for v in valid), text
    if resp.choices[0].finish_reason == "stop":
        assert json.loads(text)["n"] in (1, 2, 3)


def test_regex_extra_body(client, model):
    resp = client.completions.create(model=model, prompt="My number:", max_tokens=20,
                                     temperature=0, extra_body={"regex": "[0-9]{3}-[0-9]{4}"})
    assert re.fullmatch(r"[0-9]{3}-[0-9]{4}", resp.choices[0].text)


def test_logprobs_chat_and_completions(client, model):
    chat = client.chat.completions.create(model=model, messages=CHAT, max_tokens=3,
                                          temperature=0, logprobs=True, top_logprobs=2)
    content = chat.choices[0].logprobs.content
    assert len(content) == 3
    assert "".join(t.token for t in content) == chat.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in content)
    assert all(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob for t in content)
    comp = client.completions.create(model=model, prompt="the", max_tokens=3, temperature=0,
                                     logprobs=2)
    lp = comp.choices[0].logprobs
    assert len(lp.tokens) == 3 and len(lp.token_logprobs) == 3 and len(lp.top_logprobs) == 3


def test_cached_tokens_reported_with_enable_cache_report(client, model):
    messages = [{"role": "system", "content": "You answer briefly. " * 20}] + CHAT
    client.chat.completions.create(model=model, messages=messages, max_tokens=1)
    again = client.chat.completions.create(model=model, messages=messages, max_tokens=1)
    assert again.usage.prompt_tokens_details.cached_tokens > 0

