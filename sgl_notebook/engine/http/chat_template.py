"""Chat prompts from OpenAI messages with the model's own chat template (as SGLang's
``_apply_jinja_template``), and a plain fallback for models without one."""

from __future__ import annotations

from typing import Any

from .openai_protocol import ChatCompletionRequest


def message_dicts(req: ChatCompletionRequest) -> list[dict[str, Any]]:
    """Messages as plain dicts; text parts are joined, other parts are refused."""
    out: list[dict[str, Any]] = []
    for message in req.messages:
        content = message.content
        if content is None:
            text = ""
        elif isinstance(content, str):
            text = content
        else:
            parts = []
            for part in content:
                if getattr(part, "type", None) != "text":
                    raise ValueError(
                        "The CPU engine serves text-only models: send text content parts only."
                    )
                parts.append(part.text)  # type: ignore[union-attr]
            text = "\n".join(parts)
        out.append({"role": message.role, "content": text})
    return out


def _fallback_prompt(messages: list[dict[str, Any]]) -> str:
    # SGLang's "default" conversation template style, for tokenizers without a chat template.
    lines = [f"{m['role'].upper()}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nASSISTANT:"


def render_chat_prompt(tokenizer: Any, req: ChatCompletionRequest) -> list[int]:
    """Token ids of the chat prompt, ending with the assistant's generation prompt."""
    messages = message_dicts(req)
    prefix = None
    if messages and messages[-1]["role"] == "assistant" and req.continue_final_message:
        prefix = messages.pop()["content"]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=True,
            **(req.chat_template_kwargs or {}),
        )
        ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(_fallback_prompt(messages))["input_ids"]
    if prefix:
        extra = tokenizer.encode(prefix)
        if extra and extra[0] == tokenizer.bos_token_id:
            extra = extra[1:]
        ids = ids + extra
    return ids
