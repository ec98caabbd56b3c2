"""Regex / JSON-schema / EBNF constraints through the scheduler, on both runners (xgrammar on
transformers, llguidance on llama.cpp)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from sgl_notebook.engine.core.blocking import generate_blocking, submit_collecting, wait_all
from sgl_notebook.engine.core.scheduler import Scheduler
from sgl_notebook.engine.core.types import GenerationRequest, SamplingParams

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "ok": {"type": "boolean"},
    },
    "required": ["name", "age", "ok"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine(runner: Any) -> Iterator[tuple[Scheduler, Any]]:
    sched = Scheduler(runner)
    yield sched, runner
    sched.shutdown()


def generate(sched: Scheduler, loaded: Any, rid: str, **params: Any) -> Any:
    ids = loaded.tokenizer.encode("The answer to the question is", add_special_tokens=False)
    params.setdefault("temperature", 0.0)
    params.setdefault("max_new_tokens", 120)
    req = GenerationRequest(rid, ids, SamplingParams(**params))
    return generate_blocking(sched, [req], timeout=120)[0].final


def test_regex_output_matches_in_full(engine: tuple[Scheduler, Any]) -> None:
    sched, loaded = engine
    pattern = r"[0-9]{3}-[a-z]{2,4}"
    out = generate(sched, loaded, "regex-1", regex=pattern)
    assert re.fullmatch(pattern, out.text), out.text
    assert out.finish_reason["type"] == "stop"  # the grammar ended the request
    sampled = generate(sched, loaded, "regex-2", regex=pattern, temperature=1.0)
    assert re.fullmatch(pattern, sampled.text), sampled.text


def test_json_schema_output_parses_and_fits(engine: tuple[Scheduler, Any]) -> None:
    sched, loaded = engine
    out = generate(sched, loaded, "json-1", json_schema=json.dumps(SCHEMA), max_new_tokens=200)
    value = json.loads(out.text)
    assert set(value) == {"name", "age", "ok"}
    assert isinstance(value["name"], str) and len(value["name"]) <= 8
    assert isinstance(value["age"], int) and 0 <= value["age"] <= 120
    assert isinstance(value["ok"], bool)


def test_ebnf_and_free_rows_share_a_batch(engine: tuple[Scheduler, Any]) -> None:
    sched, loaded = engine
    ids = loaded.tokenizer.encode("Hello world", add_special_tokens=False)
    reqs = [
        GenerationRequest(
            "ebnf-1", ids, SamplingParams(ebnf='root ::= "yes" | "no"', temperature=0)
        ),
        GenerationRequest(
            "free-1", ids, SamplingParams(max_new_tokens=6, ignore_eos=True, temperature=0)
        ),
    ]
    constrained, free = (c.final for c in generate_blocking(sched, reqs, timeout=120))
    assert constrained.text in ("yes", "no")
    assert free.completion_tokens == 6


@pytest.mark.parametrize(
    ("field", "value"),
    [("regex", "[0-9"), ("json_schema", "{not json"), ("ebnf", "root ::= undefined_rule")],
)
def test_invalid_grammar_aborts_with_400_like_sglang(
    engine: tuple[Scheduler, Any], field: str, value: str
) -> None:
    sched, loaded = engine
    kind = {"regex": "regex", "json_schema": "json", "ebnf": "ebnf"}[field]
    first = generate(sched, loaded, f"bad-{field}-1", **{field: value})
    assert first.finish_reason == {
        "type": "abort",
        "message": f"Invalid grammar request: req.grammar_key={(kind, value)!r}",
        "status_code": 400,
        "err_type": "BadRequestError",
    }
    again = generate(sched, loaded, f"bad-{field}-2", **{field: value})
    assert again.finish_reason["message"] == (
        f"Invalid grammar request with cache hit: key={(kind, value)!r}"
    )
    fine = generate(sched, loaded, f"after-bad-{field}", max_new_tokens=3, ignore_eos=True)
    assert fine.finish_reason == {"type": "length", "length": 3}


def test_request_waiting_for_its_grammar_can_be_aborted(runner: Any) -> None:
    loaded = runner
    # A fresh compiler: the first grammar waits for its set-up.
    sched = Scheduler(loaded, grammar=loaded.grammar_backend(fresh=True))
    try:
        ids = loaded.tokenizer.encode("Hello world", add_special_tokens=False)
        waiting = submit_collecting(
            sched, GenerationRequest("gram-abort-1", ids, SamplingParams(regex="[a-z]+"))
        )
        sched.abort("gram-abort")
        free = submit_collecting(
            sched,
            GenerationRequest("free-2", ids, SamplingParams(max_new_tokens=3, ignore_eos=True)),
        )
        wait_all([waiting, free], timeout=120)
        assert waiting.final.finish_reason == {
            "type": "abort",
            "message": "Aborted by AbortReq.",
            "status_code": 400,
            "err_type": "BadRequestError",
        }
        assert free.final.finish_reason == {"type": "length", "length": 3}
        assert sched.flush_cache()
    finally:
        sched.shutdown()
