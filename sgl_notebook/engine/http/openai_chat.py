"""``/v1/chat/completions`` as SGLang 0.4.10's ``serving_chat.py``: the model's chat template,
``response_format``, chat logprobs, and the stream's chunk order (role chunk, content deltas, one
finish chunk per choice, optional usage chunk, ``[DONE]``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from .chat_template import render_chat_prompt
from .engine_state import EngineState
from .generate_input import GenerateReqInput
from .openai_protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatCompletionResponseChoice,
    ChatCompletionResponseStreamChoice,
    ChatCompletionStreamResponse,
    ChatMessage,
    DeltaMessage,
    to_chat_logprobs,
    to_openai_logprobs,
)
from .openai_serving import common_sampling, finish_of, stream_usage, streaming_error, usage_of


def chat_to_generate(st: EngineState, req: ChatCompletionRequest) -> GenerateReqInput:
    input_ids = render_chat_prompt(st.tokenizer, req)
    sampling = common_sampling(req)
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


def chat_response(
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
        reason, matched = finish_of(meta["finish_reason"])
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
        usage=usage_of(ret, req.n, st.args.enable_cache_report),
    )


async def chat_stream(
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
            usage = stream_usage(prompt, completion, cached, req.n, st.args.enable_cache_report)
            body = ChatCompletionStreamResponse(
                id=rid, created=int(time.time()), choices=[], model=req.model, usage=usage
            )
            yield f"data: {body.model_dump_json()}\n\n"
    except ValueError as e:
        yield f"data: {streaming_error(str(e))}\n\n"
    yield "data: [DONE]\n\n"
