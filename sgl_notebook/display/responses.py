"""Cards for answers made outside ``%%sgl``: openai ``ChatCompletion`` / ``Completion`` objects,
``Server.generate`` / ``Server.chat`` results (``GenerateResult`` / ``ChatResult``) and native
``/generate`` dicts, with usage and cached tokens. Registered as IPython formatters by type
name, so nothing here imports openai.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sgl_notebook.display.result import SglResult, result_card_html, result_text

__all__ = ["generate_result", "openai_results", "response_html", "response_text"]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _usage(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    details = _get(usage, "prompt_tokens_details")
    cached = _get(details, "cached_tokens") if details is not None else _get(usage, "cached_tokens")
    return {
        "prompt_tokens": _get(usage, "prompt_tokens"),
        "completion_tokens": _get(usage, "completion_tokens"),
        "total_tokens": _get(usage, "total_tokens"),
        "cached_tokens": cached,
    }


def openai_results(response: Any) -> list[SglResult]:
    """One result per choice of a ChatCompletion or Completion (object or dict)."""
    usage = _usage(_get(response, "usage"))
    out = []
    for choice in _get(response, "choices") or []:
        message = _get(choice, "message")
        text = _get(message, "content") if message is not None else _get(choice, "text")
        out.append(
            SglResult(
                text=text or "",
                finish_reason=_get(choice, "finish_reason"),
                usage=usage,
                index=int(_get(choice, "index", 0) or 0),
                model=_get(response, "model"),
                rid=_get(response, "id"),
            )
        )
    return out


def generate_result(payload: Mapping[str, Any]) -> SglResult:
    """A native ``/generate`` payload -> result (finish reason dicts become their ``type``)."""
    meta = payload.get("meta_info") or {}
    finish = meta.get("finish_reason")
    return SglResult(
        text=str(payload.get("text", "")),
        finish_reason=finish.get("type") if isinstance(finish, Mapping) else finish,
        usage={
            "prompt_tokens": meta.get("prompt_tokens"),
            "completion_tokens": meta.get("completion_tokens"),
            "cached_tokens": meta.get("cached_tokens"),
        },
        rid=meta.get("id"),
        elapsed=meta.get("e2e_latency"),
    )


def _results(obj: Any) -> list[SglResult]:
    if isinstance(obj, Mapping) and "meta_info" in obj:
        return [generate_result(obj)]
    if hasattr(obj, "meta_info"):  # sgl_notebook.client.GenerateResult
        return [generate_result({"text": obj.text, "meta_info": obj.meta_info})]
    if hasattr(obj, "text") and hasattr(obj, "usage") and not hasattr(obj, "choices"):
        # sgl_notebook.client.ChatResult
        return [
            SglResult(
                text=str(obj.text),
                finish_reason=getattr(obj, "finish_reason", None),
                usage=_usage(obj.usage),
                model=getattr(obj, "model", None),
            )
        ]
    return openai_results(obj)


def response_html(obj: Any) -> str | None:
    """HTML cards for a response; None without choices (IPython then tries other formatters)."""
    results = _results(obj)
    if not results:
        return None
    return "".join(result_card_html(r) for r in results)


def response_text(obj: Any) -> str:
    return "\n\n".join(result_text(r) for r in _results(obj))
