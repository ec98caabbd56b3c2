"""What SGLang 0.4.10's OpenAI routes share (``serving_base.py``, ``usage_processor.py``):
the JSON content-type check, error bodies, usage counting and the common sampling fields."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

from .engine_state import EngineState
from .generate_input import GenerateReqInput
from .json_response import SafeJSONResponse
from .openai_protocol import ChatCompletionRequest, CompletionRequest, ErrorResponse, UsageInfo


async def validate_json_request(raw_request: Request) -> None:
    """Only ``application/json`` bodies (SGLang's ``validate_json_request``)."""
    content_type = raw_request.headers.get("content-type", "").lower()
    if content_type.split(";", maxsplit=1)[0] != "application/json":
        raise RequestValidationError(
            errors=[
                {
                    "loc": ["header", "content-type"],
                    "msg": "Unsupported Media Type: Only 'application/json' is allowed",
                    "type": "value_error",
                }
            ]
        )


def error_response(
    message: str, err_type: str = "BadRequestError", status_code: int = 400
) -> SafeJSONResponse:
    body = ErrorResponse(message=message, type=err_type, code=status_code)
    return SafeJSONResponse(body.model_dump(), status_code=status_code)


def streaming_error(message: str) -> str:
    body = ErrorResponse(message=message, type="BadRequestError", code=400)
    return json.dumps({"error": body.model_dump()})


def engine_of(raw: Request) -> EngineState:
    st: EngineState = raw.app.state.engine
    return st


def stream_usage(
    prompt: dict[int, int], completion: dict[int, int], cached: dict[int, int], n: int,
    cache_report: bool,
) -> UsageInfo:
    """SGLang's ``UsageProcessor``: prompt tokens counted once per prompt."""
    prompt_total = sum(t for i, t in prompt.items() if i % n == 0)
    completion_total = sum(completion.values())
    cached_total = sum(cached.values())
    details = {"cached_tokens": cached_total} if cache_report and cached_total > 0 else None
    return UsageInfo(
        prompt_tokens=prompt_total,
        completion_tokens=completion_total,
        total_tokens=prompt_total + completion_total,
        prompt_tokens_details=details,
    )


def usage_of(ret: list[dict[str, Any]], n: int, cache_report: bool) -> UsageInfo:
    metas = [r["meta_info"] for r in ret]
    return stream_usage(
        {i: m["prompt_tokens"] for i, m in enumerate(metas)},
        {i: m["completion_tokens"] for i, m in enumerate(metas)},
        {i: m.get("cached_tokens", 0) for i, m in enumerate(metas)},
        n, cache_report,
    )


def finish_of(reason: dict[str, Any] | None) -> tuple[str | None, Any]:
    if not reason:
        return None, None
    return reason["type"], reason.get("matched")


def common_sampling(req: ChatCompletionRequest | CompletionRequest) -> dict[str, Any]:
    return {
        "temperature": req.temperature,
        "min_new_tokens": req.min_tokens,
        "stop": req.stop,
        "stop_token_ids": req.stop_token_ids,
        "top_p": req.top_p,
        "top_k": req.top_k,
        "min_p": req.min_p,
        "presence_penalty": req.presence_penalty,
        "frequency_penalty": req.frequency_penalty,
        "repetition_penalty": req.repetition_penalty,
        "regex": req.regex,
        "ebnf": req.ebnf,
        "n": req.n,
        "no_stop_trim": req.no_stop_trim,
        "ignore_eos": req.ignore_eos,
        "skip_special_tokens": req.skip_special_tokens,
        "logit_bias": req.logit_bias,
    }


async def run_generate(
    st: EngineState, adapted: GenerateReqInput, raw: Request
) -> list[dict[str, Any]]:
    assert st.manager is not None
    ret = await st.manager.generate(adapted, raw).__anext__()
    return ret if isinstance(ret, list) else [ret]
