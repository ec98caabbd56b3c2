"""``--logprobs`` rendering: each token coloured by its probability, a legend for the colours, and
a hover card (a styled box, not a native tooltip) with the token's probability and the top
alternatives the server considered.

The card is a hidden child of its token, shown by CSS on hover or keyboard focus. The rule ships
in the JupyterLab extension's stylesheet and, for other front ends, in a small ``<style>`` that
comes with the legend. Colours are translucent so they read on light and dark themes.

>>> t = TokenLogprob("Par", math.log(0.9), (("Par", math.log(0.9)), ("Lon", math.log(0.05))))
>>> html = logprob_spans_html([t])
>>> 'class="sgl-tok"' in html and 'class="sgl-tok-card"' in html and "p = 0.900" in html
True
"""

from __future__ import annotations

import math

from sgl_notebook.display.html_builders import esc, style
from sgl_notebook.protocol.logprobs import TokenLogprob

__all__ = ["LEGEND_HTML", "TokenLogprob", "logprob_spans_html", "logprob_tokens_html", "prob_color"]


def _prob(logprob: float) -> float:
    return math.exp(logprob) if math.isfinite(logprob) else 0.0


def prob_color(p: float) -> str:
    """Red (unlikely) to green (likely), translucent."""
    return f"hsla({round(120 * p)},75%,50%,0.35)"


_TOK_CSS = style(border_radius="2px", position="relative", cursor="help")
_CARD_CSS = style(display="none")  # shown by the .sgl-tok:hover rule
# the same rule as labextension/style/base.css, for front ends without the extension
_STYLE = (
    "<style>.sgl-tok:hover>.sgl-tok-card,.sgl-tok:focus>.sgl-tok-card{display:block!important;"
    "position:absolute;left:0;top:1.5em;z-index:10;min-width:9em;padding:4px 6px;"
    "white-space:nowrap;font-size:85%;line-height:1.35;border-radius:4px;"
    "background:var(--jp-layout-color0,#fff);color:var(--jp-ui-font-color1,#111);"
    "border:1px solid rgba(127,127,127,0.45);box-shadow:0 2px 6px rgba(0,0,0,0.2);"
    "user-select:none}</style>"
)


def _card_html(token: TokenLogprob) -> str:
    rows = "".join(
        f'<span class="sgl-tok-alt{" sgl-mod-chosen" if alt == token.token else ""}" '
        f'style="display:flex;justify-content:space-between;gap:12px">'
        f"<code>{esc(repr(alt))}</code><span>{_prob(lp):.2f}</span></span>"
        for alt, lp in token.top
    )
    head = f'<b style="display:block">{esc(repr(token.token))} · p = {_prob(token.logprob):.3f}</b>'
    return f'<span class="sgl-tok-card" style="{_CARD_CSS}">{head}{rows}</span>'


def logprob_spans_html(tokens: list[TokenLogprob]) -> str:
    """The coloured token spans, each with its hover card (no wrapper, no legend)."""
    out = []
    for t in tokens:
        p = _prob(t.logprob)
        out.append(
            f'<span class="sgl-tok" tabindex="0" data-p="{p:.3f}" '
            f'style="{_TOK_CSS};background:{prob_color(p)}">{esc(t.token)}{_card_html(t)}</span>'
        )
    return "".join(out)


def _legend() -> str:
    swatches = "".join(
        f'<span style="{style(display="inline-block", width="14px", height="10px")};'
        f'background:{prob_color(p)}"></span>'
        for p in (0.05, 0.25, 0.5, 0.75, 0.95)
    )
    css = style(font_size="75%", opacity="0.75", margin_top="4px", user_select="none")
    return (
        f'<div class="sgl-logprob-legend" style="{css}">token probability: unlikely '
        f'<span style="vertical-align:middle">{swatches}</span> likely · '
        f"hover a token for the alternatives</div>{_STYLE}"
    )


LEGEND_HTML = _legend()
_WRAP_CSS = "white-space:pre-wrap;line-height:1.6"


def logprob_tokens_html(tokens: list[TokenLogprob]) -> str:
    """Each token coloured by its probability (legend below); hover shows the alternatives."""
    return f'<div style="{_WRAP_CSS}">{logprob_spans_html(tokens)}</div>{LEGEND_HTML}'
