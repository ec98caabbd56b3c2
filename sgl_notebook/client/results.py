"""Whole answers (:class:`GenerateResult`, :class:`ChatResult`) and the request bodies' helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatResult", "GenerateResult", "Messages", "as_messages", "generate_payload"]

Messages = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class GenerateResult:
    """A native ``/generate`` answer: the text and SGLang's ``meta_info``."""

    text: str
    meta_info: dict[str, Any] = field(default_factory=dict)

    @property
    def finish_reason(self) -> str | None:
        reason = self.meta_info.get("finish_reason")
        return reason.get("type") if isinstance(reason, dict) else reason

    @property
    def usage(self) -> dict[str, Any]:
        keys = ("prompt_tokens", "completion_tokens", "cached_tokens")
        return {k: self.meta_info[k] for k in keys if k in self.meta_info}

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ChatResult:
    """An OpenAI-style chat (or completion) answer: the text, finish reason, usage, raw JSON."""

    text: str
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


# The public path: IPython's display formatters are registered by module and name.
GenerateResult.__module__ = ChatResult.__module__ = "sgl_notebook.client"


def generate_results(data: Any) -> GenerateResult | list[GenerateResult]:
    """A native ``/generate`` JSON answer (a list for a batch) as results."""
    if isinstance(data, list):
        return [GenerateResult(d.get("text", ""), d.get("meta_info", {})) for d in data]
    return GenerateResult(data.get("text", ""), data.get("meta_info", {}))


def chat_result(data: dict[str, Any], chat: bool = True) -> ChatResult:
    """An OpenAI chat (or, ``chat=False``, completion) JSON answer as a result."""
    choice = data["choices"][0]
    text = (choice["message"].get("content") or "") if chat else choice.get("text", "")
    return ChatResult(
        text, choice.get("finish_reason"), data.get("usage") or {}, data.get("model"), data
    )


def as_messages(
    messages_or_text: str | Messages, system: str | None = None
) -> list[dict[str, Any]]:
    """A prompt string or a message list -> a message list (with an optional system prompt)."""
    if isinstance(messages_or_text, str):
        messages: list[dict[str, Any]] = [{"role": "user", "content": messages_or_text}]
    else:
        messages = [dict(m) for m in messages_or_text]
    if system is not None and not (messages and messages[0].get("role") == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


_SAMPLING_TOP_LEVEL = {
    "return_logprob", "logprob_start_len", "top_logprobs_num", "return_text_in_logprobs",
    "rid", "image_data", "lora_path", "input_ids", "custom_logit_processor",
}


def generate_payload(prompt: Any, stream: bool, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A ``/generate`` body: request keys at the top, every other keyword in sampling_params."""
    sampling = dict(kwargs.get("sampling_params") or {})
    payload: dict[str, Any] = {}
    if prompt is not None:
        payload["text"] = prompt
    for key, value in kwargs.items():
        if key == "sampling_params":
            continue
        if key in _SAMPLING_TOP_LEVEL:
            payload[key] = value
        else:
            sampling[key] = value
    payload["sampling_params"] = sampling
    if stream:
        payload["stream"] = True
    return payload
