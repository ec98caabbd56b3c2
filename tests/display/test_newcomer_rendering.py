"""Rendering slips a newcomer saw (issue 12), with real sglang programs against the CPU engine:
chat-template markers hidden in the live view as in the final one, and forks drawn where they
ran (before the text that followed their join)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sgl_notebook.display.program_model import build_program_view
from sgl_notebook.display.program_render import render_program_html, render_program_text
from tests.fixtures.engine_servers import default_sglang_backend

sgl = pytest.importorskip("sglang")

from tests.fixtures.sgl_programs import tips  # noqa: E402 -- after the importorskip


@pytest.fixture(scope="module")
def chatml_backend(tiny_engine) -> Iterator[Any]:
    """The tiny model's ChatML template, as ``Server.backend()`` picks for SmolLM2."""
    with default_sglang_backend(tiny_engine.url, chat_template_name="chatml") as runtime:
        yield runtime


@sgl.function
def chat(s, question):
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=48, temperature=0))


def _assistant_bodies(html: str) -> list[str]:
    # each assistant block: a header row (role badge, dimmed template marker), then the body
    return re.findall(
        r'sgl-role-assistant"[^>]*><div style="margin-bottom:2px">.*?</div>(.*?)</div>', html, re.S
    )


def test_live_view_hides_the_template_marker_like_the_final_one(chatml_backend, shell, monkeypatch):
    from IPython.display import DisplayHandle

    import sgl_notebook.display.live_program as live_program

    live: list[str] = []
    original = live_program.render_program_html

    def recording(view: Any, *args: Any, **kwargs: Any) -> str:
        html = original(view, *args, **kwargs)
        live.append(html)
        return html

    monkeypatch.setattr(live_program, "render_program_html", recording)
    monkeypatch.setattr(DisplayHandle, "update", lambda self, obj, **kw: None)
    state = chat.run(question="Tell me about tea.", stream=True)
    live_program.show(state, mode="widget", max_updates_per_s=50)
    open_views = [html for html in live if "assistant …" in html]
    assert open_views, "no redraw caught the assistant role open"
    for html in open_views:
        bodies = _assistant_bodies(html)
        assert bodies and all("im_start" not in body for body in bodies), bodies
        assert "&lt;|im_start|&gt;assistant" in html  # still there, as the dimmed marker
    final = shell.display_formatter.format(state)[0]["text/html"]
    assert all("im_start" not in body for body in _assistant_bodies(final))


def test_forks_render_where_they_ran(chatml_backend, shell):
    state = tips.run()
    html = shell.display_formatter.format(state)[0]["text/html"]
    assert html.index("Here are two tips.") < html.index('class="sgl-fork"')
    assert html.index('class="sgl-fork"') < html.index("Room number:")
    text = shell.display_formatter.format(state)[0]["text/plain"]
    assert text.index("[fork tip[1]]") < text.index("Room number:")
    # the position was recorded at the join, not guessed
    assert state.stream_executor._sgl_notebook_fork_positions["tip"] == len("Here are two tips.\n")


def test_fork_position_is_inferred_when_the_join_was_not_seen():
    text = "Here are two tips.\nRoom number: 123"
    variables = {"tip": ["drink water", "sleep"], "room": "123"}
    view = build_program_view(text, [], variables, {"room": {"id": "r"}})
    html = render_program_html(view)
    assert html.index("Here are two tips.") < html.index('class="sgl-fork"')
    assert html.index('class="sgl-fork"') < html.index("Room number:")
    plain = render_program_text(view)
    assert plain.index("[fork tip[0]] drink water") < plain.index("Room number:")
