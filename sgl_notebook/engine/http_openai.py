"""OpenAI-compatible routes as SGLang 0.4.10 serves them (``srt/entrypoints/openai/serving_*.py``).

Requests become native :class:`GenerateReqInput` bodies and go through the same
:class:`GenerationManager` as ``/generate``; responses keep SGLang's details: bare 32-hex ids,
``matched_stop``, a separate finish chunk per choice in chat streams, the finish reason on the
last content chunk in completion streams, ``prompt_tokens_details`` only with
``--enable-cache-report``, and top-level ``{"object": "error", ...}`` error bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from .chat_template import render_chat_prompt
from .generate_input import GenerateReqInput
from .json_response import SafeJSONResponse
from .openai_protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatCompletionResponseChoice,
    ChatCompletionResponseStreamChoice,
    ChatCompletionStreamResponse,
    ChatMessage,
    CompletionRequest,
    CompletionResponse,
    CompletionResponseChoice,
    CompletionResponseStreamChoice,
    CompletionStreamResponse,
    DeltaMessage,
    EmbeddingObject,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    UsageInfo,
    to_chat_logprobs,
    to_openai_logprobs,
)
from .state import EngineState

logger = logging.getLogger("sgl_notebook.engine")
router = APIRouter()


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


def _engine(raw: Request) -> EngineState:
    st: EngineState = raw.app.state.engine
    return st


def _usage(
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


def _usage_of(ret: list[dict[str, Any]], n: int, cache_report: bool) -> UsageInfo:
    metas = [r["meta_info"] for r in ret]
    return _usage(
        {i: m["prompt_tokens"] for i, m in enumerate(metas)},
        {i: m["completion_tokens"] for i, m in enumerate(metas)},
        {i: m.get("cached_tokens", 0) for i, m in enumerate(metas)},
        n, cache_report,
    )


def _finish(reason: dict[str, Any] | None) -> tuple[str | None, Any]:
    if not reason:
        return None, None
    return reason["type"], reason.get("matched")


def _common_sampling(req: ChatCompletionRequest | CompletionRequest) -> dict[str, Any]:
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


async def _run(
    st: EngineState, adapted: GenerateReqInput, raw: Request
) -> list[dict[str, Any]]:
    assert st.manager is not None
    ret = await st.manager.generate(adapted, raw).__anext__()
    return ret if isinstance(ret, list) else [ret]


# -- chat -------------------------------------------------------------------------------------


def _chat_to_generate(st: EngineState, req: ChatCompletionRequest) -> GenerateReqInput:
    input_ids = render_chat_prompt(st.tokenizer, req)
    sampling = _common_sampling(req)
    sampling["max_new_tokens"] = req.max_tokens or req.max_completion_tokens
    fmt = req.response_format
    if fmt is not None and fmt.type == "json_schema":
        schema = fmt.json_schema.schema_ if fmt.json_schema is not None else None
        sampling["json_schema"] = json.dumps(schema)
    elif fmt is not None and fmt.type == "json_object":
        sampling["json_schema"] = '{"type": "object"}'
    return GenerateReqInput(
        input_ids=input_ids,
        sampling_params=sampling,
        return_logprob=req.logprobs,
        logprob_start_len=-1,
        top_logprobs_num=req.top_logprobs or 0,
        stream=req.stream,
        return_text_in_logprobs=True,
        rid=req.rid,
    )


@router.post("/v1/chat/completions", dependencies=[Depends(validate_json_request)])
async def chat_completions(req: ChatCompletionRequest, raw: Request) -> Any:
    st = _engine(raw)
    try:
        if not req.messages:
            return error_response("Messages cannot be empty.")
        if st.manager is None:
            return error_response("This model is an embedding model: use /v1/embeddings.")
        adapted = _chat_to_generate(st, req)
        if req.stream:
            return StreamingResponse(_chat_stream(st, adapted, req, raw),
                                     media_type="text/event-stream")
        try:
            ret = await _run(st, adapted, raw)
        except ValueError as e:
            return error_response(str(e))
        return SafeJSONResponse(_chat_response(st, req, ret).model_dump())
    except HTTPException as e:
        return error_response(str(e.detail), str(e.status_code), e.status_code)
    except Exception as e:  # noqa: BLE001 -- SGLang answers every other failure with a 500 body
        logger.exception(f"Error in request: {e}")
        return error_response(f"Internal server error: {e}", "InternalServerError", 500)


def _chat_response(
    st: EngineState, req: ChatCompletionRequest, ret: list[dict[str, Any]]
) -> ChatCompletionResponse:
    choices = []
    for idx, item in enumerate(ret):
        meta = item["meta_info"]
        logprobs = None
        if req.logprobs:
            lp = to_openai_logprobs(
                output_token_logprobs=meta["output_token_logprobs"],
                output_top_logprobs=meta.get("output_top_logprobs"),
            )
            logprobs = to_chat_logprobs(lp, per_token_tops=True)
        reason, matched = _finish(meta["finish_reason"])
        text = item["text"]
        choices.append(
            ChatCompletionResponseChoice(
                index=idx,
                message=ChatMessage(role="assistant", content=text if text else None),
                logprobs=logprobs,
                finish_reason=reason,  # type: ignore[arg-type]
                matched_stop=matched,
            )
        )
    return ChatCompletionResponse(
        id=ret[0]["meta_info"]["id"],
        created=int(time.time()),
        model=req.model,
        choices=choices,
        usage=_usage_of(ret, req.n, st.args.enable_cache_report),
    )


async def _chat_stream(
    st: EngineState, adapted: GenerateReqInput, req: ChatCompletionRequest, raw: Request
) -> AsyncIterator[str]:
    assert st.manager is not None
    is_first: dict[int, bool] = {}
    buffers: dict[int, str] = {}
    n_prev: dict[int, int] = {}
    finish_reasons: dict[int, dict[str, Any]] = {}
    prompt: dict[int, int] = {}
    completion: dict[int, int] = {}
    cached: dict[int, int] = {}
    rid = ""

    def chunk(index: int, delta: DeltaMessage, **kw: Any) -> str:
        choice = ChatCompletionResponseStreamChoice(index=index, delta=delta, **kw)
        body = ChatCompletionStreamResponse(
            id=rid, created=int(time.time()), choices=[choice], model=req.model
        )
        return f"data: {body.model_dump_json()}\n\n"

    try:
        async for content in st.manager.generate(adapted, raw):
            index = content.get("index", 0)
            meta = content["meta_info"]
            rid = meta["id"]
            prompt[index] = meta["prompt_tokens"]
            completion[index] = meta["completion_tokens"]
            cached[index] = meta.get("cached_tokens", 0)
            logprobs = None
            if req.logprobs:
                start = n_prev.get(index, 0)
                lp = to_openai_logprobs(
                    output_token_logprobs=meta["output_token_logprobs"][start:],
                    output_top_logprobs=meta.get("output_top_logprobs", [])[start:],
                )
                logprobs = to_chat_logprobs(lp, per_token_tops=False)
                n_prev[index] = len(meta["output_token_logprobs"])
            if meta["finish_reason"]:
                finish_reasons[index] = meta["finish_reason"]
            if is_first.get(index, True):
                is_first[index] = False
                yield chunk(index, DeltaMessage(role="assistant", content=""))
            buffer = buffers.get(index, "")
            delta = content["text"][len(buffer):]
            buffers[index] = buffer + delta
            if delta:
                yield chunk(index, DeltaMessage(content=delta), logprobs=logprobs)
        for index, reason in finish_reasons.items():
            yield chunk(
                index, DeltaMessage(), finish_reason=reason["type"],
                matched_stop=reason.get("matched"),
            )
        if req.stream_options and req.stream_options.include_usage:
            usage = _usage(prompt, completion, cached, req.n, st.args.enable_cache_report)
            body = ChatCompletionStreamResponse(
                id=rid, created=int(time.time()), choices=[], model=req.model, usage=usage
            )
            yield f"data: {body.model_dump_json()}\n\n"
    except ValueError as e:
        yield f"data: {streaming_error(str(e))}\n\n"
    yield "data: [DONE]\n\n"


# -- completions ------------------------------------------------------------------------------


def _completion_to_generate(req: CompletionRequest) -> GenerateReqInput:
    sampling = _common_sampling(req)
    sampling["max_new_tokens"] = req.max_tokens
    sampling["json_schema"] = req.json_schema
    prompt = req.prompt
    text_prompt = isinstance(prompt, str) or (
        isinstance(prompt, list) and bool(prompt) and isinstance(prompt[0], str)
    )
    return GenerateReqInput(
        text=prompt if text_prompt else None,  # type: ignore[arg-type]
        input_ids=None if text_prompt else prompt,  # type: ignore[arg-type]
        sampling_params=sampling,
        return_logprob=req.logprobs is not None,
        top_logprobs_num=req.logprobs if req.logprobs is not None else 0,
        logprob_start_len=0 if (req.echo and req.logprobs) else -1,
        return_text_in_logprobs=True,
        stream=req.stream,
        rid=req.rid,
    )


def _echo_text(st: EngineState, req: CompletionRequest, index: int) -> str:
    prompt = req.prompt
    if isinstance(prompt, str):
        return prompt
    if prompt and isinstance(prompt[0], str):
        return str(prompt[index // req.n])
    if prompt and isinstance(prompt[0], int):
        return str(st.tokenizer.decode(prompt, skip_special_tokens=True))
    if prompt and isinstance(prompt[0], list):
        return str(st.tokenizer.decode(prompt[index // req.n], skip_special_tokens=True))
    return ""


def _completion_logprobs(meta: dict[str, Any], with_input: bool, start: int = 0) -> Any:
    return to_openai_logprobs(
        input_token_logprobs=meta.get("input_token_logprobs") if with_input else None,
        input_top_logprobs=meta.get("input_top_logprobs") if with_input else None,
        output_token_logprobs=meta["output_token_logprobs"][start:],
        output_top_logprobs=meta.get("output_top_logprobs", [])[start:],
    )


@router.post("/v1/completions", dependencies=[Depends(validate_json_request)])
async def completions(req: CompletionRequest, raw: Request) -> Any:
    st = _engine(raw)
    try:
        if st.manager is None:
            return error_response("This model is an embedding model: use /v1/embeddings.")
        adapted = _completion_to_generate(req)
        if req.stream:
            return StreamingResponse(_completion_stream(st, adapted, req, raw),
                                     media_type="text/event-stream")
        try:
            ret = await _run(st, adapted, raw)
        except ValueError as e:
            return error_response(str(e))
        choices = []
        for idx, item in enumerate(ret):
            meta = item["meta_info"]
            text = (_echo_text(st, req, idx) if req.echo else "") + item["text"]
            logprobs = (
                _completion_logprobs(meta, req.echo) if req.logprobs is not None else None
            )
            reason, matched = _finish(meta["finish_reason"])
            choices.append(CompletionResponseChoice(
                index=idx, text=text, logprobs=logprobs,
                finish_reason=reason, matched_stop=matched,  # type: ignore[arg-type]
            ))
        body = CompletionResponse(
            id=ret[0]["meta_info"]["id"], model=req.model, created=int(time.time()),
            choices=choices, usage=_usage_of(ret, req.n, st.args.enable_cache_report),
        )
        return SafeJSONResponse(body.model_dump())
    except HTTPException as e:
        return error_response(str(e.detail), str(e.status_code), e.status_code)
    except Exception as e:  # noqa: BLE001 -- SGLang answers every other failure with a 500 body
        logger.exception(f"Error in request: {e}")
        return error_response(f"Internal server error: {e}", "InternalServerError", 500)


async def _completion_stream(
    st: EngineState, adapted: GenerateReqInput, req: CompletionRequest, raw: Request
) -> AsyncIterator[str]:
    assert st.manager is not None
    created = int(time.time())
    buffers: dict[int, str] = {}
    n_prev: dict[int, int] = {}
    prompt: dict[int, int] = {}
    completion: dict[int, int] = {}
    cached: dict[int, int] = {}
    rid = ""
    try:
        async for content in st.manager.generate(adapted, raw):
            index = content.get("index", 0)
            meta = content["meta_info"]
            rid = meta["id"]
            text = content["text"]
            prompt[index] = meta["prompt_tokens"]
            completion[index] = meta["completion_tokens"]
            cached[index] = meta.get("cached_tokens", 0)
            buffer = buffers.get(index, "")
            first = not buffer
            if first and req.echo:
                text = _echo_text(st, req, index) + text
            logprobs = None
            if req.logprobs is not None:
                logprobs = _completion_logprobs(meta, first and req.echo, n_prev.get(index, 0))
                n_prev[index] = len(meta["output_token_logprobs"])
            delta = text[len(buffer):]
            buffers[index] = buffer + delta
            reason, matched = _finish(meta["finish_reason"])
            choice = CompletionResponseStreamChoice(
                index=index, text=delta, logprobs=logprobs,
                finish_reason=reason, matched_stop=matched,  # type: ignore[arg-type]
            )
            body = CompletionStreamResponse(
                id=rid, created=created, choices=[choice], model=req.model
            )
            yield f"data: {body.model_dump_json()}\n\n"
        if req.stream_options and req.stream_options.include_usage:
            usage = _usage(prompt, completion, cached, req.n, st.args.enable_cache_report)
            final = CompletionStreamResponse(
                id=rid, created=created, choices=[], model=req.model, usage=usage
            )
            yield f"data: {final.model_dump_json(exclude_none=True)}\n\n"
    except Exception as e:  # noqa: BLE001 -- completions streams report any failure in-band
        yield f"data: {streaming_error(str(e))}\n\n"
    yield "data: [DONE]\n\n"


# -- embeddings -------------------------------------------------------------------------------


@router.post("/v1/embeddings", dependencies=[Depends(validate_json_request)])
async def embeddings(req: EmbeddingRequest, raw: Request) -> Any:
    st = _engine(raw)
    if st.embedder is None:
        return error_response(
            "This model does not appear to be an embedding model by default. "
            "Please add `--is-embedding` when launching the server or try another model."
        )
    inputs = req.input
    if isinstance(inputs, str):
        batch = [st.embedder.tokenize(inputs)]
    elif inputs and isinstance(inputs[0], int):
        batch = [list(inputs)]
    elif inputs and isinstance(inputs[0], list):
        batch = [list(x) for x in inputs]
    elif inputs:
        batch = [st.embedder.tokenize(str(x)) for x in inputs]
    else:
        return error_response("Input cannot be empty")
    for ids in batch:
        if len(ids) >= st.context_len:
            return error_response(
                f"The input ({len(ids)} tokens) is longer than the "
                f"model's context length ({st.context_len} tokens)."
            )
    results = await asyncio.to_thread(st.embedder.embed, batch)
    prompt_tokens = sum(r.prompt_tokens for r in results)
    body = EmbeddingResponse(
        data=[EmbeddingObject(embedding=r.embedding, index=i) for i, r in enumerate(results)],
        model=req.model,
        usage=UsageInfo(prompt_tokens=prompt_tokens, total_tokens=prompt_tokens),
    )
    return SafeJSONResponse(body.model_dump())
