"""Parse first: magic lines and cells become frozen dataclasses; mistakes are UsageErrors."""

from __future__ import annotations

import dataclasses

import pytest
from IPython.core.error import UsageError

from sgl_notebook.magics import errors
from sgl_notebook.magics.line_specs import (
    ConnectSpec,
    LaunchSpec,
    LogsSpec,
    SessionResetSpec,
    StopSpec,
)
from sgl_notebook.magics.requests import (
    Defaults,
    chat_messages,
    chat_request,
    generate_request,
    resolve_schema,
)
from sgl_notebook.magics.specs import CellSpec, parse_cell
from sgl_notebook.magics.subcommands import parse_line
from sgl_notebook.magics.template import render_prompt


def test_cell_options_become_a_frozen_spec():
    spec = parse_cell(
        "--server tiny --system 'Be brief' --max-tokens 32 -t 0.2 --top-p 0.9 "
        "--stop END --stop '###' "
        "--session s1 --n 2 -o ans --no-stream --logprobs",
        "Hello\n",
    )
    assert spec == CellSpec(
        prompt="Hello",
        server="tiny",
        system="Be brief",
        max_tokens=32,
        temperature=0.2,
        top_p=0.9,
        stop=("END", "###"),
        session="s1",
        n=2,
        output="ans",
        stream=False,
        logprobs=True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.n = 3  # type: ignore[misc]


def test_choices_become_an_escaped_alternation():
    spec = parse_cell("--choices 'yes, no,a.b'", "?")
    assert spec.choices == ("yes", "no", "a.b")
    assert spec.constraint_regex == r"(yes|no|a\.b)"


@pytest.mark.parametrize(
    ("line", "cell", "error", "words"),
    [
        ("--max-token 5", "hi", errors.UnknownOptionError, "Did you mean '--max-tokens'"),
        ("--regex a --choices b", "hi", errors.SglUsageError, "cannot be combined"),
        ("--mode chatt", "hi", errors.SglUsageError, "Did you mean 'chat'"),
        ("--n 0", "hi", errors.SglUsageError, "at least 1"),
        ("--top-p 0", "hi", errors.SglUsageError, "(0, 1]"),
        ("-o 1abc", "hi", errors.SglUsageError, "not a valid Python variable"),
        ("--session s --mode generate", "hi", errors.SglUsageError, "--mode chat"),
        ("", "   \n", errors.SglUsageError, "cell is empty"),
        ("--system 'unclosed", "hi", errors.SglUsageError, "quotes"),
        ("--max-tokens many", "hi", errors.SglUsageError, "invalid int value"),
    ],
)
def test_cell_mistakes_are_usage_errors_with_a_next_step(line, cell, error, words):
    with pytest.raises(error) as info:
        parse_cell(line, cell)
    assert isinstance(info.value, UsageError)
    assert words in str(info.value)


def test_line_subcommands_parse():
    assert parse_line(
        "launch --engine cpu --name tiny --api-key auto -- --log-level warning"
    ) == LaunchSpec(
        model=None, engine="cpu", name="tiny", api_key="auto", extra_args=("--log-level", "warning")
    )
    assert parse_line("stop a b") == StopSpec(("a", "b"), False)
    assert parse_line("stop --all") == StopSpec((), True)
    assert parse_line("connect http://127.0.0.1:30000/ --api-key k") == ConnectSpec(
        "http://127.0.0.1:30000", "k", None
    )
    assert parse_line("logs tiny -n 5") == LogsSpec("tiny", 5)
    assert parse_line("session reset chat") == SessionResetSpec("chat")


@pytest.mark.parametrize(
    ("line", "error", "words"),
    [
        ("", errors.SglUsageError, "needs a subcommand"),
        ("lanch", errors.UnknownSubcommandError, "Did you mean 'launch'"),
        ("launch --nam x", errors.UnknownOptionError, "Did you mean '--name'"),
        ("connect localhost:3000", errors.SglUsageError, "not an http(s) URL"),
        ("stop --all a", errors.SglUsageError, "not both"),
        ("session forget x", errors.SglUsageError, "only action is 'reset'"),
        ("logs -n 0", errors.SglUsageError, "at least 1"),
    ],
)
def test_line_mistakes_are_usage_errors(line, error, words):
    with pytest.raises(error, match=None) as info:
        parse_line(line)
    assert words in str(info.value)


def test_template_fills_from_namespace_and_leaves_single_braces_alone():
    assert render_prompt('Give {"a": 1} for {{ x }}', {"x": "France"}) == 'Give {"a": 1} for France'
    assert render_prompt("no template {here}", {}) == "no template {here}"
    assert render_prompt("{{ items | join(', ') }}", {"items": ["a", "b"]}) == "a, b"


def test_template_unknown_variable_suggests_a_close_name():
    with pytest.raises(errors.TemplateVariableError) as info:
        render_prompt("{{ contry }}", {"country": "x", "In": []}, hidden={"In"})
    assert "Did you mean 'country'" in str(info.value)
    with pytest.raises(errors.TemplateSyntaxError, match="raw"):
        render_prompt("{{ oops", {})


def test_schema_from_json_variable_or_pydantic_model():
    pydantic = pytest.importorskip("pydantic")

    class City(pydantic.BaseModel):
        name: str

    assert resolve_schema('{"type": "object"}', {}) == {"type": "object"}
    assert resolve_schema("s", {"s": '{"type": "string"}'}) == {"type": "string"}
    assert resolve_schema("City", {"City": City})["properties"]["name"]["type"] == "string"
    for bad, words in [
        ("{nope", "not valid JSON"),
        ("schemx", "no such variable"),
        ('{"type": 5}', "not a valid JSON schema"),
        ("a b", "neither JSON"),
    ]:
        with pytest.raises(errors.InvalidSchemaError, match=words):
            resolve_schema(bad, {"schema": {}})


def test_requests_carry_rid_constraints_and_defaults():
    spec = parse_cell('--json-schema \'{"type": "object"}\' --logprobs', "hi")
    body = chat_request(
        spec,
        chat_messages("hi", "sys"),
        Defaults(max_tokens=77, top_logprobs=3),
        rid="r",
        model="m",
        schema={"type": "object"},
    )
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["max_tokens"] == 77 and body["top_logprobs"] == 3 and body["logprobs"] is True
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert body["extra_body"] == {"rid": "r"}
    assert body["stream_options"] == {"include_usage": True}
    native = generate_request(parse_cell("--choices a,b", "x"), "x", Defaults(), rid="r")
    assert native["sampling_params"] == {
        "max_new_tokens": 256,
        "temperature": 0.0,
        "regex": "(a|b)",
    }


def test_session_history_keeps_turns_and_replaces_the_system_prompt():
    history = [
        {"role": "system", "content": "old"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
    ]
    messages = chat_messages("c", "new", history)
    assert [m["content"] for m in messages] == ["new", "a", "b", "c"]
    assert history[0]["content"] == "old"
