"""OpenAI request and response models with SGLang 0.4.10's field names, defaults and nulls.

Written from ``srt/entrypoints/openai/protocol.py``'s documented shapes: the responses serialise
null fields (``"logprobs": null``...) as 0.4.10 does, chat defaults to ``temperature=0.7``, and
SGLang's extra sampling fields (``top_k``, ``regex``, ``ebnf``...) are accepted.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_serializer


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int = Field(default_factory=lambda: int(time.time()))
    owned_by: str = "sglang"
    root: str | None = None
    max_model_len: int | None = None


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    object: str = "error"
    message: str
    type: str
    param: str | None = None
    code: int


class LogProbs(BaseModel):
    """Completions-style logprobs."""

    text_offset: list[int] = Field(default_factory=list)
    token_logprobs: list[float | None] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)
    top_logprobs: list[dict[str, float] | None] = Field(default_factory=list)


class TopLogprob(BaseModel):
    token: str
    bytes: list[int]
    logprob: float


class ChatCompletionTokenLogprob(BaseModel):
    token: str
    bytes: list[int]
    logprob: float
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(BaseModel):
    content: list[ChatCompletionTokenLogprob]


class UsageInfo(BaseModel):
    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int | None = 0
    # {"cached_tokens": N} only with --enable-cache-report and N > 0, as in SGLang 0.4.10.
    prompt_tokens_details: dict[str, int] | None = None


class StreamOptions(BaseModel):
    include_usage: bool | None = False


class _SglangSamplingExtras(BaseModel):
    """SGLang-only request fields shared by chat and completions."""

    top_k: int = -1
    min_p: float = 0.0
    min_tokens: int = 0
    regex: str | None = None
    ebnf: str | None = None
    repetition_penalty: float = 1.0
    stop_token_ids: list[int] | None = None
    no_stop_trim: bool = False
    ignore_eos: bool = False
    skip_special_tokens: bool = True
    lora_path: list[str | None] | str | None = None
    session_params: dict[str, Any] | None = None
    rid: list[str] | str | None = None
    return_hidden_states: bool = False


class CompletionRequest(_SglangSamplingExtras):
    model: str
    prompt: list[int] | list[list[int]] | str | list[str]
    best_of: int | None = None
    echo: bool = False
    frequency_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None
    logprobs: int | None = None
    max_tokens: int = 16
    n: int = 1
    presence_penalty: float = 0.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    user: str | None = None
    json_schema: str | None = None

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens_positive(cls, v: int | None) -> int | None:
        if v is not None and v <= 0:
            raise ValueError("max_tokens must be positive")
        return v


class _NoHiddenStates(BaseModel):
    """Drops ``hidden_states`` from the JSON when it is None, as SGLang's serializer does."""

    hidden_states: Any | None = None

    @model_serializer(mode="wrap")
    def _serialize(self, handler: Any) -> Any:
        data = handler(self)
        if self.hidden_states is None:
            data.pop("hidden_states", None)
        return data


FinishReason = Literal[
    "stop", "length", "tool_calls", "content_filter", "function_call", "abort"
]


class CompletionResponseChoice(_NoHiddenStates):
    index: int
    text: str
    logprobs: LogProbs | None = None
    finish_reason: FinishReason | None = None
    matched_stop: None | int | str = None


class CompletionResponse(BaseModel):
    id: str
    object: str = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionResponseChoice]
    usage: UsageInfo


class CompletionResponseStreamChoice(_NoHiddenStates):
    index: int
    text: str
    logprobs: LogProbs | None = None
    finish_reason: FinishReason | None = None
    matched_stop: None | int | str = None


class CompletionStreamResponse(BaseModel):
    id: str
    object: str = "text_completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[CompletionResponseStreamChoice]
    usage: UsageInfo | None = None


class ContentTextPart(BaseModel):
    type: Literal["text"]
    text: str


class ContentImageURL(BaseModel):
    url: str
    detail: Literal["auto", "low", "high"] | None = "auto"


class ContentImagePart(BaseModel):
    type: Literal["image_url"]
    image_url: ContentImageURL


class FunctionResponse(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCall(BaseModel):
    id: str | None = None
    index: int | None = None
    type: Literal["function"] = "function"
    function: FunctionResponse


class GenericMessage(BaseModel):
    role: Literal["system", "assistant", "tool"]
    content: str | list[ContentTextPart] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _normalize_role(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.lower() not in {"system", "assistant", "tool"}:
                raise ValueError(
                    "'role' must be one of 'system', 'assistant', or 'tool' (case-insensitive)."
                )
            return v.lower()
        raise ValueError("'role' must be a string")


class UserMessage(BaseModel):
    role: Literal["user"]
    content: str | list[ContentTextPart | ContentImagePart]


ChatMessageParam = GenericMessage | UserMessage


class JsonSchemaResponseFormat(BaseModel):
    name: str
    description: str | None = None
    schema_: dict[str, object] | None = Field(alias="schema", default=None)
    strict: bool | None = False


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaResponseFormat | None = None


class Function(BaseModel):
    description: str | None = None
    name: str | None = None
    parameters: object | None = None
    strict: bool = False


class Tool(BaseModel):
    type: str = "function"
    function: Function


class ChatCompletionRequest(_SglangSamplingExtras):
    messages: list[ChatMessageParam]
    model: str
    frequency_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int = 1
    presence_penalty: float = 0.0
    response_format: ResponseFormat | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float = 0.7  # SGLang 0.4.10's chat default (0.5.x reads generation_config)
    top_p: float = 1.0
    user: str | None = None
    tools: list[Tool] | None = None
    tool_choice: Any = "none"
    continue_final_message: bool = False
    separate_reasoning: bool = True
    stream_reasoning: bool = True
    chat_template_kwargs: dict[str, Any] | None = None


class ChatMessage(BaseModel):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatCompletionResponseChoice(_NoHiddenStates):
    index: int
    message: ChatMessage
    logprobs: LogProbs | ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None
    matched_stop: None | int | str = None


class ChatCompletionResponse(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatCompletionResponseChoice]
    usage: UsageInfo


class DeltaMessage(_NoHiddenStates):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatCompletionResponseStreamChoice(BaseModel):
    index: int
    delta: DeltaMessage
    logprobs: LogProbs | ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None
    matched_stop: None | int | str = None


class ChatCompletionStreamResponse(BaseModel):
    id: str
    object: str = "chat.completion.chunk"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChatCompletionResponseStreamChoice]
    usage: UsageInfo | None = None


class EmbeddingRequest(BaseModel):
    input: list[int] | list[list[int]] | str | list[str]
    model: str
    encoding_format: str = "float"
    dimensions: int | None = None
    user: str | None = None
    rid: list[str] | str | None = None


class EmbeddingObject(BaseModel):
    embedding: list[float]
    index: int
    object: str = "embedding"


class EmbeddingResponse(BaseModel):
    data: list[EmbeddingObject]
    model: str
    object: str = "list"
    usage: UsageInfo | None = None


def to_openai_logprobs(
    input_token_logprobs: list[list[Any]] | None = None,
    output_token_logprobs: list[list[Any]] | None = None,
    input_top_logprobs: list[Any] | None = None,
    output_top_logprobs: list[Any] | None = None,
) -> LogProbs:
    """SGLang ``[logprob, id, text]`` triples to completions-style logprobs."""
    out = LogProbs()
    for triples in (input_token_logprobs, output_token_logprobs):
        for logprob, _token_id, text in triples or []:
            out.tokens.append(text)
            out.token_logprobs.append(logprob)
            out.text_offset.append(-1)  # not supported, as in SGLang
    for tops in (input_top_logprobs, output_top_logprobs):
        for entries in tops or []:
            out.top_logprobs.append(
                None if entries is None else {e[2]: e[0] for e in entries}
            )
    return out


def to_chat_logprobs(logprobs: LogProbs, per_token_tops: bool) -> ChoiceLogprobs:
    """Completions-style logprobs to chat ``logprobs.content`` entries.

    ``per_token_tops``: the top-logprob list is aligned with the tokens (non-streaming); when
    False (streaming, already sliced) every token uses entry 0, as SGLang does.
    """
    content = []
    pairs = zip(logprobs.tokens, logprobs.token_logprobs, strict=False)
    for i, (token, logprob) in enumerate(pairs):
        tops: list[TopLogprob] = []
        if logprobs.top_logprobs:
            entry = logprobs.top_logprobs[i if per_token_tops else 0] or {}
            tops = [
                TopLogprob(token=t, bytes=list(t.encode("utf-8")), logprob=lp)
                for t, lp in entry.items()
            ]
        content.append(
            ChatCompletionTokenLogprob(
                token=token,
                bytes=list(token.encode("utf-8")),
                logprob=logprob if logprob is not None else float("-inf"),
                top_logprobs=tops,
            )
        )
    return ChoiceLogprobs(content=content)
