"""Answers made outside %%sgl render as cards: Server.chat/generate results and openai objects."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def server(tiny_engine):
    import sgl_notebook

    connected = sgl_notebook.connect(tiny_engine.url, name="cards-tiny")
    yield connected
    connected.stop()


def test_server_chat_and_generate_results_render_with_usage(shell, server):
    chat = server.chat("Hello", max_tokens=3)
    data, _ = shell.display_formatter.format(chat)
    assert 'class="sgl-card"' in data["text/html"] and "tokens: <b>3</b>" in data["text/html"]
    assert data["text/plain"].startswith(chat.text)
    generated = server.generate("The sky is", max_new_tokens=2)
    data, _ = shell.display_formatter.format(generated)
    assert "finish: length" in data["text/plain"] and "prompt:" in data["text/plain"]


def test_openai_objects_render_with_cached_tokens(shell, server):
    client = server.client()
    messages = [{"role": "user", "content": "A long shared prompt " * 20}]
    client.chat.completions.create(model="m", messages=messages, max_tokens=2)
    again = client.chat.completions.create(model="m", messages=messages, max_tokens=2)
    data, _ = shell.display_formatter.format(again)
    cached = again.usage.prompt_tokens_details.cached_tokens
    assert cached and f"cached: <b>{cached}</b>" in data["text/html"]
    completion = client.completions.create(model="m", prompt="Once upon", max_tokens=2)
    data, _ = shell.display_formatter.format(completion)
    assert completion.choices[0].text in data["text/plain"] and "sgl-card" in data["text/html"]


def test_reloading_the_extension_keeps_one_configurable(shell):
    from sgl_notebook.magics.core import SglMagics

    shell.run_line_magic("reload_ext", "sgl_notebook")
    assert sum(isinstance(c, SglMagics) for c in shell.configurables) == 1
    assert shell.find_cell_magic("sgl") is not None
