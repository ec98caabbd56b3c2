"""Behaviour with the real SmolLM2-135M-Instruct at temperature 0 (``-m smollm``)."""

from __future__ import annotations

import ipaddress
import json
import re
import threading

import jsonschema
import openai
import pytest
import requests

from tests.engine.greedy import TWIN_OPTIONS, GreedyRun, assert_same_greedy
from tests.fixtures.engine_servers import default_sglang_backend

sgl = pytest.importorskip("sglang")
pytestmark = pytest.mark.smollm

IPV4 = r"((25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(25[0-5]|2[0-4]\d|[01]?\d\d?)"
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 20},
                   "age": {"type": "integer", "minimum": 0, "maximum": 120}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def backend(smollm2_engine):
    with default_sglang_backend(smollm2_engine.url) as runtime:
        yield runtime


@sgl.function
def capital(s):
    s += sgl.user("What is the capital of France? Answer in one word.")
    s += sgl.assistant(sgl.gen("answer", max_tokens=16, temperature=0))


@sgl.function
def server_ip(s):
    s += "The IP address of the local DNS server is " + sgl.gen(
        "ip", regex=IPV4, max_tokens=20, temperature=0
    )


@sgl.function
def person(s):
    s += "Describe a person as JSON with a name and an age.\n"
    s += sgl.gen("json", json_schema=json.dumps(PERSON), max_tokens=64, temperature=0)


def test_france_question_answers_paris(backend, smollm2_engine):
    assert "Paris" in capital.run()["answer"]
    client = openai.OpenAI(base_url=smollm2_engine.url + "/v1", api_key="x", max_retries=0)
    chat = client.chat.completions.create(
        model="smollm2", temperature=0, max_tokens=16,
        messages=[{"role": "user", "content": "Name the capital of France."}],
    )
    assert "Paris" in chat.choices[0].message.content


def test_ipv4_regex_matches_in_full(backend):
    ip = server_ip.run()["ip"]
    assert re.fullmatch(IPV4, ip)
    ipaddress.IPv4Address(ip)


def test_json_schema_output_parses_and_validates(backend, smollm2_engine):
    jsonschema.validate(json.loads(person.run()["json"]), PERSON)
    client = openai.OpenAI(base_url=smollm2_engine.url + "/v1", api_key="x", max_retries=0)
    chat = client.chat.completions.create(
        model="smollm2", temperature=0, max_tokens=64,
        messages=[{"role": "user", "content": "Give me a person as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}},
    )
    jsonschema.validate(json.loads(chat.choices[0].message.content), PERSON)


def test_16_concurrent_streams_match_their_non_streamed_twins(smollm2_engine):
    prompts = [f"Write one sentence about the number {i}." for i in range(16)]
    sampling = {"temperature": 0, "max_new_tokens": 24}
    twin = {"sampling_params": sampling, **TWIN_OPTIONS}
    start = len(smollm2_engine.log_lines())
    finals: dict[int, str] = {}
    done: dict[int, bool] = {}

    def stream(i: int) -> None:
        body = {"text": prompts[i], "stream": True, **twin}
        with requests.post(smollm2_engine.url + "/generate", json=body, stream=True,
                           timeout=300) as r:
            for line in r.iter_lines():
                if line == b"data: [DONE]":
                    done[i] = True
                elif line.startswith(b"data: "):
                    finals[i] = json.loads(line[6:])

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert sorted(done) == list(range(16))
    twins = requests.post(smollm2_engine.url + "/generate", timeout=300,
                          json={"text": prompts, **twin}).json()
    runner = requests.get(smollm2_engine.url + "/get_server_info").json()["runner"]
    for i, twin_out in enumerate(twins):
        streamed, whole = GreedyRun.from_meta(finals[i]["meta_info"]), GreedyRun.from_meta(
            twin_out["meta_info"])
        assert_same_greedy(streamed, whole, runner)
        if streamed.ids == whole.ids:
            assert finals[i]["text"] == twin_out["text"]

    log = smollm2_engine.log_lines()[start:]
    batched = [int(m[1]) for line in log
               if (m := re.search(r"Prefill batch\. #new-seq: (\d+)", line))]
    running = [int(m[1]) for line in log
               if (m := re.search(r"#running-req: (\d+)", line))]
    assert max(batched) > 1 or max(running) > 1, "\n".join(log)
