"""Pure renderers: escaping everywhere, result cards, logprob colouring, Markdown safety."""

from __future__ import annotations

import math

from sgl_notebook.display.html_builders import badge, card, esc, kv_line, pre, span, table
from sgl_notebook.display.markdown import to_html
from sgl_notebook.display.responses import response_html, response_text
from sgl_notebook.display.result import SglResult, TokenLogprob, logprob_tokens_html

EVIL = '<script>alert("x")</script>&"\''


def test_every_builder_escapes_text():
    for html in (
        esc(EVIL),
        pre(EVIL),
        badge(EVIL, title=EVIL),
        span(esc(EVIL), "gen", EVIL, title=EVIL),
        kv_line([(EVIL, EVIL)]),
        table([EVIL], [[EVIL]]),
        card(esc(EVIL), esc(EVIL)),
    ):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


def test_span_label_is_not_copied_with_the_text():
    html = span("Paris", "gen", "answer")
    assert 'data-var="answer"' in html and "user-select:none" in html and "Paris" in html


def test_markdown_renders_formatting_but_not_raw_html_or_js_links():
    html = to_html("# Title\n\n**bold** `code`\n\n" + EVIL + "\n\n[x](javascript:alert(1))")
    assert (
        "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<code>code</code>" in html
    )
    assert "<script>" not in html
    assert 'href="javascript:' not in html


def test_result_bundle_has_plain_text_and_escaped_html_with_usage():
    result = SglResult(
        text="**Paris** " + EVIL,
        finish_reason="stop",
        usage={"prompt_tokens": 12, "completion_tokens": 3, "cached_tokens": 8},
        ttft=0.123,
        tokens_per_s=21.5,
        server="tiny",
    )
    bundle = result._repr_mimebundle_()
    assert bundle["text/plain"].startswith("**Paris** ")
    assert "cached: 8" in bundle["text/plain"] and "TTFT: 123 ms" in bundle["text/plain"]
    assert "<strong>Paris</strong>" in bundle["text/html"]
    assert "<script>" not in bundle["text/html"]
    assert str(result) == result.text


def test_interrupted_result_says_so():
    result = SglResult(text="partial", finish_reason=None, interrupted=True)
    assert "finish: interrupted" in result._repr_mimebundle_()["text/plain"]


def test_json_result_is_pretty_printed():
    result = SglResult(text='{"city":"Paris"}', json={"city": "Paris"})
    assert "&quot;city&quot;: &quot;Paris&quot;" in result._repr_mimebundle_()["text/html"]


def test_logprob_tokens_are_coloured_and_show_alternatives_on_hover():
    tokens = [
        TokenLogprob("Par", math.log(0.9), (("Par", math.log(0.9)), ("Lon", math.log(0.05)))),
        TokenLogprob("<is>", math.log(0.1)),
    ]
    html = logprob_tokens_html(tokens)
    assert html.count('class="sgl-tok"') == 2
    assert "hsla(108," in html  # p=0.9 -> green-ish
    assert "hsla(12," in html  # p=0.1 -> red-ish
    # the alternatives are in a styled hover card (not a native title tooltip), with a legend
    assert 'class="sgl-tok-card"' in html and "title=" not in html
    assert "<code>&#x27;Lon&#x27;</code><span>0.05</span>" in html and "p = 0.900" in html
    assert 'class="sgl-logprob-legend"' in html and ".sgl-tok:hover>.sgl-tok-card" in html
    assert "&lt;is&gt;" in html


def test_openai_chat_completion_renders_as_a_card_with_cached_tokens():
    from openai.types.chat import ChatCompletion

    response = ChatCompletion.model_validate(
        {
            "id": "abc",
            "object": "chat.completion",
            "created": 0,
            "model": "tiny",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi <b>"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 2,
                "total_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 7},
            },
        }
    )
    html = response_html(response)
    assert html is not None and "Hi &lt;b&gt;" in html and "cached: <b>7</b>" in html
    assert "finish: stop" in response_text(response)


def test_native_generate_payload_renders_finish_type():
    payload = {
        "text": "4",
        "meta_info": {
            "id": "r",
            "finish_reason": {"type": "length", "length": 1},
            "prompt_tokens": 5,
            "completion_tokens": 1,
            "cached_tokens": 0,
        },
    }
    assert "finish: length" in response_text(payload)


def test_response_without_choices_is_left_to_ipython():
    assert response_html({"choices": []}) is None
