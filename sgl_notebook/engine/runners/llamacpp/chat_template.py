"""Render a model's Jinja chat template as transformers' ``apply_chat_template`` does.

GGUF files carry the template in ``tokenizer.chat_template``; transformers renders it in an
immutable sandbox with ``trim_blocks`` and ``lstrip_blocks``, the ``loopcontrols`` extension, a
``tojson`` filter that keeps non-ASCII text, and the ``raise_exception`` / ``strftime_now``
globals. The same here, so a GGUF prompt is byte for byte the prompt transformers would build.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any


class TemplateError(ValueError):
    """The template called ``raise_exception`` (e.g. roles out of order)."""


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: Any = None,
            separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=8)
def compile_template(source: str) -> Any:
    """A compiled template (cached: templates are long and rendered per request)."""
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(source)


def render_chat_template(
    source: str,
    messages: list[dict[str, Any]],
    *,
    add_generation_prompt: bool,
    special_tokens: dict[str, str],
    **kwargs: Any,
) -> str:
    """The prompt text for ``messages``.

    >>> src = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
    >>> render_chat_template(src, [{"role": "user", "content": "hi"}],
    ...                      add_generation_prompt=False, special_tokens={})
    '<user>hi'
    """
    template = compile_template(source)
    return str(
        template.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            **special_tokens,
            **kwargs,
        )
    )
