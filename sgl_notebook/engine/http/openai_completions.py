"""``/v1/completions`` as SGLang 0.4.10's ``serving_completions.py``: echo, completions-style
logprobs, and streams whose last content chunk carries the finish reason."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from .engine_state import EngineState
from .generate_input import GenerateReqInput
from .openai_protocol import (
    CompletionRequest,
    CompletionResponse,
    CompletionResponseChoice,
    CompletionResponseStreamChoice,
    CompletionStreamResponse,
    to_openai_logprobs,
)
from .openai_serving import common_sampling, finish_of, stream_usage, streaming_error, usage_of


def completion_to_generate(req: CompletionRequest) -> GenerateReqInput:
    sampling = common_sampling(req)
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


def echo_text(st: EngineState, req: CompletionRequest, index: int) -> str:
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


def completion_logprobs(meta: dict[str, Any], with_input: bool, start: int = 0) -> Any:
    return to_openai_logprobs(
        input_token_logprobs=meta.get("input_token_logprobs") if with_input else None,
        input_top_logprobs=meta.get("input_top_logprobs") if with_input else None,
        output_token_logprobs=meta["output_token_logprobs"][start:],
        output_top_logprobs=meta.get("output_top_logprobs", [])[start:],
    )


def completion_response(
    st: EngineState, req: CompletionRequest, ret: list[dict[str, Any]]
) -> CompletionResponse:
    """The non-streaming ``/v1/completions`` answer."""
    choices = []
    for idx, item in enumerate(ret):
        meta = item["meta_info"]
        text = (echo_text(st, req, idx) if req.echo else "") + item["text"]
        logprobs = (
            completion_logprobs(meta, req.echo) if req.logprobs is not None else None
        )
        reason, matched = finish_of(meta["finish_reason"])
        choices.append(CompletionResponseChoice(
            index=idx, text=text, logprobs=logprobs,
            finish_reason=reason, matched_stop=matched,  # type: ignore[arg-type]
        ))
    return CompletionResponse(
        id=ret[0]["meta_info"]["id"], model=req.model, created=int(time.time()),
        choices=choices, usage=usage_of(ret, req.n, st.args.enable_cache_report),
    )


async def completion_stream(
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
                text = echo_text(st, req, index) + text
            logprobs = None
            if req.logprobs is not None:
                logprobs = completion_logprobs(meta, first and req.echo, n_prev.get(index, 0))
                n_prev[index] = len(meta["output_token_logprobs"])
            delta = text[len(buffer):]
            buffers[index] = buffer + delta
            reason, matched = finish_of(meta["finish_reason"])
            choice = CompletionResponseStreamChoice(
                index=index, text=delta, logprobs=logprobs,
                finish_reason=reason, matched_stop=matched,  # type: ignore[arg-type]
            )
            body = CompletionStreamResponse(
                id=rid, created=created, choices=[choice], model=req.model
            )
            yield f"data: {body.model_dump_json()}\n\n"
        if req.stream_options and req.stream_options.include_usage:
            usage = stream_usage(prompt, completion, cached, req.n, st.args.enable_cache_report)
            final = CompletionStreamResponse(
                id=rid, created=created, choices=[], model=req.model, usage=usage
            )
            yield f"data: {final.model_dump_json(exclude_none=True)}\n\n"
    except Exception as e:  # noqa: BLE001 -- completions streams report any failure in-band
        yield f"data: {streaming_error(str(e))}\n\n"
    yield "data: [DONE]\n\n"
