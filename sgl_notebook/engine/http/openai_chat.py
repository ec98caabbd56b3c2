"""``/v1/chat/completions`` as SGLang 0.4.10's ``serving_chat.py``: the model's chat template,
``response_format``, chat logprobs, and the stream's chunk order (role chunk, content deltas, one
finish chunk per choice, optional usage chunk, ``[DONE]``)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
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


@dataclass
class _ChatStream:
    """What a chat stream remembers per choice between chunks, and the chunks it writes."""

    req: ChatCompletionRequest
    rid: str = ""
    started: set[int] = field(default_factory=set)
    texts: dict[int, str] = field(default_factory=dict)
    logprobs_sent: dict[int, int] = field(default_factory=dict)
    finish_reasons: dict[int, dict[str, Any]] = field(default_factory=dict)
    prompt: dict[int, int] = field(default_factory=dict)
    completion: dict[int, int] = field(default_factory=dict)
    cached: dict[int, int] = field(default_factory=dict)

    def chunk(self, index: int, delta: DeltaMessage, **kw: Any) -> str:
        choice = ChatCompletionResponseStreamChoice(index=index, delta=delta, **kw)
        body = ChatCompletionStreamResponse(
            id=self.rid, created=int(time.time()), choices=[choice], model=self.req.model
        )
        return f"data: {body.model_dump_json()}\n\n"

    def _new_logprobs(self, index: int, meta: dict[str, Any]) -> Any:
        if not self.req.logprobs:
            return None
        start = self.logprobs_sent.get(index, 0)
        lp = to_openai_logprobs(
            output_token_logprobs=meta["output_token_logprobs"][start:],
            output_top_logprobs=meta.get("output_top_logprobs", [])[start:],
        )
        self.logprobs_sent[index] = len(meta["output_token_logprobs"])
        return to_chat_logprobs(lp, per_token_tops=False)

    def on_output(self, content: dict[str, Any]) -> Iterator[str]:
        """The chunks one output of the manager makes: the role chunk first, then new text."""
        index = content.get("index", 0)
        meta = content["meta_info"]
        self.rid = meta["id"]
        self.prompt[index] = meta["prompt_tokens"]
        self.completion[index] = meta["completion_tokens"]
        self.cached[index] = meta.get("cached_tokens", 0)
        logprobs = self._new_logprobs(index, meta)
        if meta["finish_reason"]:
            self.finish_reasons[index] = meta["finish_reason"]
        if index not in self.started:
            self.started.add(index)
            yield self.chunk(index, DeltaMessage(role="assistant", content=""))
        sent = self.texts.get(index, "")
        delta = content["text"][len(sent):]
        self.texts[index] = sent + delta
        if delta:
            yield self.chunk(index, DeltaMessage(content=delta), logprobs=logprobs)

    def ending(self, enable_cache_report: bool) -> Iterator[str]:
        """One finish chunk per choice, then the usage chunk if asked for."""
        for index, reason in self.finish_reasons.items():
            yield self.chunk(
                index, DeltaMessage(), finish_reason=reason["type"],
                matched_stop=reason.get("matched"),
            )
        options = self.req.stream_options
        if options and options.include_usage:
            usage = stream_usage(
                self.prompt, self.completion, self.cached, self.req.n, enable_cache_report
            )
            body = ChatCompletionStreamResponse(
                id=self.rid, created=int(time.time()), choices=[], model=self.req.model,
                usage=usage,
            )
            yield f"data: {body.model_dump_json()}\n\n"


async def chat_stream(
    st: EngineState, adapted: GenerateReqInput, req: ChatCompletionRequest, raw: Request
) -> AsyncIterator[str]:
    assert st.manager is not None
    stream = _ChatStream(req)
    try:
        async for content in st.manager.generate(adapted, raw):
            for line in stream.on_output(content):
                yield line
        for line in stream.ending(st.args.enable_cache_report):
            yield line
    except ValueError as e:
        yield f"data: {streaming_error(str(e))}\n\n"
    yield "data: [DONE]\n\n"
