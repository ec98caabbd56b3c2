"""The engine core on the real SmolLM2-135M-Instruct, on both runners: answers, regex and JSON
constraints."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sgl_notebook.engine.core.blocking import generate_blocking
from sgl_notebook.engine.core.scheduler import Scheduler
from sgl_notebook.engine.core.types import GenerationRequest, SamplingParams
from sgl_notebook.engine.runners.loader import load_runner

pytestmark = pytest.mark.smollm

IPV4 = r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


@pytest.fixture(scope="module", params=["llama.cpp", "transformers"])
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[Scheduler, Any]]:
    if request.param == "llama.cpp":
        runner = request.getfixturevalue("smollm2_llamacpp_runner")
    else:
        runner = load_runner("smollm2", "transformers")
    sched = Scheduler(runner)
    yield sched, runner
    sched.shutdown()


def chat(sched: Scheduler, loaded: Any, rid: str, question: str, **params: Any) -> Any:
    ids = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    input_ids = loaded.tokenizer.encode(ids, add_special_tokens=False)
    params.setdefault("temperature", 0.0)
    req = GenerationRequest(rid, input_ids, SamplingParams(**params))
    return generate_blocking(sched, [req], timeout=300)[0].final


def test_loaded_model_facts(engine: tuple[Scheduler, Any]) -> None:
    _, runner = engine
    info = runner.info
    assert info.model_class == "LlamaForCausalLM"
    assert info.has_chat_template
    assert "<|im_end|>" in [runner.tokenizer.decode([t]) for t in info.eos_token_ids]
    assert info.context_length == 8192
    assert info.dtype == ("Q4_1" if info.runner == "llama.cpp" else "float32")


def test_capital_of_france_is_paris(engine: tuple[Scheduler, Any]) -> None:
    sched, loaded = engine
    out = chat(sched, loaded, "paris", "Name the capital of France.", max_new_tokens=32)
    assert "Paris" in out.text
    assert out.finish_reason["type"] == "stop"
    assert out.finish_reason["matched"] in loaded.info.eos_token_ids


def test_ipv4_regex(engine: tuple[Scheduler, Any]) -> None:
    sched, loaded = engine
    out = chat(
        sched,
        loaded,
        "ipv4",
        "What is the IP address of the Google DNS servers?",
        regex=IPV4,
        max_new_tokens=32,
    )
    assert re.fullmatch(IPV4, out.text), out.text
    ipaddress.IPv4Address(out.text)


def test_json_schema(engine: tuple[Scheduler, Any]) -> None:
    sched, loaded = engine
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 30},
            "population": {"type": "integer", "minimum": 0, "maximum": 99999999},
        },
        "required": ["name", "population"],
    }
    out = chat(
        sched,
        loaded,
        "json",
        "Give the name and population of the capital of France in JSON.",
        json_schema=json.dumps(schema),
        max_new_tokens=64,
    )
    assert out.finish_reason["type"] == "stop", out.text
    value = json.loads(out.text)
    assert set(value) >= {"name", "population"}
    assert isinstance(value["name"], str) and isinstance(value["population"], int)
