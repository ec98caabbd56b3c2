"""The engine core on the real SmolLM2-135M-Instruct: answers, regex and JSON constraints."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sgl_notebook.engine.core.blocking import generate_blocking
from sgl_notebook.engine.runners.transformers.model import LoadedModel, load_model
from sgl_notebook.engine.core.scheduler import Scheduler
from sgl_notebook.engine.core.types import GenerationRequest, SamplingParams

pytestmark = pytest.mark.smollm

IPV4 = r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[Scheduler, LoadedModel]]:
    loaded = load_model("smollm2")
    sched = Scheduler(loaded)
    yield sched, loaded
    sched.shutdown()


def chat(sched: Scheduler, loaded: LoadedModel, rid: str, question: str, **params: Any) -> Any:
    ids = loaded.tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    input_ids = loaded.tokenizer.encode(ids, add_special_tokens=False)
    params.setdefault("temperature", 0.0)
    req = GenerationRequest(rid, input_ids, SamplingParams(**params))
    return generate_blocking(sched, [req], timeout=300)[0].final


def test_loaded_model_facts(engine: tuple[Scheduler, LoadedModel]) -> None:
    _, loaded = engine
    assert loaded.model_class == "LlamaForCausalLM"
    assert loaded.has_chat_template
    assert loaded.tokenizer.convert_ids_to_tokens(loaded.eos_token_ids) == ["<|im_end|>"]
    assert loaded.context_length == 8192 and loaded.dtype == "float32"


def test_capital_of_france_is_paris(engine: tuple[Scheduler, LoadedModel]) -> None:
    sched, loaded = engine
    out = chat(sched, loaded, "paris", "What is the capital of France?", max_new_tokens=32)
    assert "Paris" in out.text
    assert out.finish_reason == {"type": "stop", "matched": loaded.eos_token_ids[0]}


def test_ipv4_regex(engine: tuple[Scheduler, LoadedModel]) -> None:
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


def test_json_schema(engine: tuple[Scheduler, LoadedModel]) -> None:
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
