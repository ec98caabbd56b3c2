"""The HTTP request a ``%%sgl`` cell sends (pure): OpenAI chat/completions or native /generate.

>>> spec = CellSpec(prompt="Hi", max_tokens=8, choices=("yes", "no"))
>>> body = chat_request(spec, [{"role": "user", "content": "Hi"}], Defaults(), rid="r1", model="m")
>>> body["extra_body"]
{'rid': 'r1', 'regex': '(yes|no)'}
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sgl_notebook.magics.errors import InvalidSchemaError, did_you_mean
from sgl_notebook.magics.schema_check import schema_problem
from sgl_notebook.magics.specs import CellSpec

__all__ = [
    "Defaults",
    "chat_messages",
    "chat_request",
    "completion_request",
    "generate_request",
    "resolve_schema",
]


@dataclass(frozen=True)
class Defaults:
    """The configured defaults a cell falls back on (from ``SglMagics``)."""

    max_tokens: int = 256
    temperature: float | None = None
    stream: bool = True
    top_logprobs: int = 5


def resolve_schema(
    text: str, namespace: Mapping[str, Any], hidden: Collection[str] = ()
) -> dict[str, Any]:
    """``--json-schema`` value -> a JSON-schema dict.

    Accepts inline JSON, or the name of a variable holding a dict, a JSON string or a pydantic
    model class. Every keyword's value is checked (see :mod:`schema_check`), with the path to
    the first mistake.
    """
    stripped = text.strip()
    schema: Any
    if stripped.startswith("{"):
        try:
            schema = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InvalidSchemaError(
                f"--json-schema is not valid JSON ({exc.msg} at column {exc.colno}). "
                'Quote it whole (\'{"type": "object"}\') or pass a variable name.'
            ) from None
    elif stripped.isidentifier():
        if stripped not in namespace:
            visible = [k for k in namespace if not k.startswith("_") and k not in hidden]
            raise InvalidSchemaError(
                f"--json-schema {stripped}: no such variable.{did_you_mean(stripped, visible)} "
                "Define it (a dict, a JSON string or a pydantic model) or pass inline JSON."
            )
        schema = namespace[stripped]
        if hasattr(schema, "model_json_schema"):  # a pydantic model class
            schema = schema.model_json_schema()
        elif isinstance(schema, str):
            return resolve_schema(schema, {})
    else:
        raise InvalidSchemaError(
            f"--json-schema {text!r} is neither JSON nor a variable name. "
            "Example: --json-schema "
            '\'{"type": "object", "properties": {"city": {"type": "string"}}}\''
        )
    if not isinstance(schema, dict):
        raise InvalidSchemaError(
            f"--json-schema must be a JSON object (a dict), got {type(schema).__name__}."
        )
    problem = schema_problem(schema)
    if problem is not None:
        end = "" if problem.endswith("?") else "."
        raise InvalidSchemaError(f"--json-schema is not a valid JSON schema: {problem}{end}")
    return schema


def chat_messages(
    prompt: str, system: str | None, history: list[dict[str, str]] | None = None
) -> list[dict[str, str]]:
    """Session history (its system message replaced by ``system``), then the prompt."""
    messages = [dict(m) for m in (history or [])]
    if system is not None:
        messages = [m for m in messages if m["role"] != "system"]
        messages.insert(0, {"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    return messages


def _sampling(spec: CellSpec, defaults: Defaults) -> dict[str, Any]:
    out: dict[str, Any] = {
        "max_tokens": spec.max_tokens if spec.max_tokens is not None else defaults.max_tokens
    }
    temperature = spec.temperature if spec.temperature is not None else defaults.temperature
    if spec.choices and temperature is None:
        temperature = 0.0  # a choice is a decision: greedy unless asked otherwise
    if temperature is not None:
        out["temperature"] = temperature
    if spec.top_p is not None:
        out["top_p"] = spec.top_p
    if spec.stop:
        out["stop"] = list(spec.stop)
    if spec.n > 1:
        out["n"] = spec.n
    return out


def _openai_body(
    spec: CellSpec, defaults: Defaults, *, rid: str, model: str, stream: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What chat and completion requests share: the body and its SGLang ``extra_body``."""
    body: dict[str, Any] = {"model": model, "stream": stream, **_sampling(spec, defaults)}
    extra: dict[str, Any] = {"rid": rid}
    if stream:
        body["stream_options"] = {"include_usage": True}
    if spec.constraint_regex:
        extra["regex"] = spec.constraint_regex
    body["extra_body"] = extra
    return body, extra


def chat_request(
    spec: CellSpec,
    messages: list[dict[str, str]],
    defaults: Defaults,
    *,
    rid: str,
    model: str,
    schema: dict[str, Any] | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for ``openai.OpenAI().chat.completions.create``."""
    body, _ = _openai_body(spec, defaults, rid=rid, model=model, stream=stream)
    body["messages"] = messages
    if schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "cell_schema", "schema": schema},
        }
    if spec.logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = defaults.top_logprobs
    return body


def completion_request(
    spec: CellSpec,
    prompt: str,
    defaults: Defaults,
    *,
    rid: str,
    model: str,
    schema: dict[str, Any] | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for ``openai.OpenAI().completions.create``."""
    body, extra = _openai_body(spec, defaults, rid=rid, model=model, stream=stream)
    body["prompt"] = prompt
    if schema is not None:
        extra["json_schema"] = json.dumps(schema)
    if spec.logprobs:
        body["logprobs"] = defaults.top_logprobs
    return body


def generate_request(
    spec: CellSpec,
    prompt: str,
    defaults: Defaults,
    *,
    rid: str,
    schema: dict[str, Any] | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """JSON body for SGLang's native ``POST /generate``."""
    sampling = _sampling(spec, defaults)
    params: dict[str, Any] = {"max_new_tokens": sampling.pop("max_tokens")}
    params.update(sampling)
    if spec.constraint_regex:
        params["regex"] = spec.constraint_regex
    if schema is not None:
        params["json_schema"] = json.dumps(schema)
    body: dict[str, Any] = {"text": prompt, "sampling_params": params, "rid": rid, "stream": stream}
    if spec.logprobs:
        body.update(
            return_logprob=True,
            top_logprobs_num=defaults.top_logprobs,
            return_text_in_logprobs=True,
        )
    return body
