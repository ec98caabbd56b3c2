"""``{{ name }}`` templating of ``%%sgl`` cells from the notebook's variables (Jinja, strict).

Only ``{{``, ``{%`` and ``{#`` are template syntax, so JSON or code with single braces passes
through untouched; a cell with none of them is not parsed at all.

>>> render_prompt("Capital of {{ country }}? Answer as {\\"city\\": ...}", {"country": "France"})
'Capital of France? Answer as {"city": ...}'
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from sgl_notebook.magics.errors import TemplateSyntaxError, TemplateVariableError, did_you_mean

__all__ = ["render_prompt", "template_variables"]

_MARKERS = ("{{", "{%", "{#")


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    # autoescape off: this is a prompt, not HTML; StrictUndefined: a typo is an error, not ""
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


def template_variables(template: str) -> set[str]:
    """Names a template reads from its context (``{{ a.b }}`` -> ``{"a"}``)."""
    if not any(marker in template for marker in _MARKERS):
        return set()
    import jinja2
    from jinja2 import meta

    try:
        ast = _environment().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(
            f"Cannot read the template in this cell (line {exc.lineno}: {exc.message}). "
            "Write literal '{{' as {{ '{{' }} or wrap the text in {% raw %}...{% endraw %}."
        ) from None
    return set(meta.find_undeclared_variables(ast))


def render_prompt(template: str, namespace: Mapping[str, Any], hidden: Collection[str] = ()) -> str:
    """Fill ``{{ name }}`` from ``namespace``; unknown names raise :class:`TemplateVariableError`.

    ``hidden`` names (IPython's own, like ``In``/``exit``) are never suggested as "did you mean".
    """
    names = template_variables(template)
    if not names:
        return template
    visible = [k for k in namespace if not k.startswith("_") and k not in hidden]
    for name in sorted(names):
        if name not in namespace:
            raise TemplateVariableError(
                f"{{{{ {name} }}}} is not defined in the notebook.{did_you_mean(name, visible)} "
                f"Define it first (e.g. {name} = ...) or escape the braces with {{% raw %}}."
            )
    import jinja2

    try:
        return str(_environment().from_string(template).render(**dict(namespace)))
    except jinja2.UndefinedError as exc:  # e.g. {{ user.missing_attribute }}
        raise TemplateVariableError(f"Template error: {exc.message}.") from None
