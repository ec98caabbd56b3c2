"""Real sglang ProgramStates (gen, select, fork, regex, run_batch, streaming) run against the CPU
engine on the tiny model, rendered through IPython's formatters."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

sgl = pytest.importorskip("sglang")

from tests.fixtures.sgl_programs import tips  # noqa: E402 -- after the importorskip


@sgl.function
def qa(s, question):
    s += sgl.system("You are a helpful assistant.")
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=8, temperature=0))
    s += sgl.user("Is that right?")
    s += sgl.assistant(sgl.select("verdict", choices=["yes", "no"]))


def _html(shell, obj):
    data, _ = shell.display_formatter.format(obj)
    return data


def test_roles_and_labelled_gen_and_select_spans(tiny_sglang_backend, shell):
    state = qa.run(question="What is the capital of France?")
    data = _html(shell, state)
    html = data["text/html"]
    for role in ("system", "user", "assistant"):
        assert f"sgl-role-{role}" in html
    answer = state["answer"]
    assert re.search(r'data-var="answer"[^>]*>.*?</span>' + re.escape(_esc(answer)), html, re.S)
    assert 'data-var="verdict"' in html
    # both choices scored, the decision marked
    assert "verdict scores" in html and ">yes <small>" in html and ">no <small>" in html
    scores = state.get_meta_info("verdict")["normalized_prompt_logprobs"]
    assert f"{scores[0]:.3f}" in html
    plain = data["text/plain"]
    assert "[user] What is the capital of France?" in plain
    assert f"⟦verdict: {state['verdict']}⟧" in plain


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def test_forks_side_by_side_and_a_regex_span(tiny_sglang_backend, shell):
    state = tips.run()
    assert re.fullmatch(r"[0-9]{3}", state["room"])
    html = _html(shell, state)["text/html"]
    assert 'class="sgl-fork"' in html and "tip[0]" in html and "tip[1]" in html
    assert 'data-var="room"' in html and state["room"] in html


def test_run_batch_renders_every_state(tiny_sglang_backend, shell):
    states = qa.run_batch([{"question": "One?"}, {"question": "Two?"}])
    html = _html(shell, states)["text/html"]
    assert html.count('class="sgl-program"') == 2
    assert "One?" in html and "Two?" in html
    assert _html(shell, [1, 2]).get("text/html") is None  # other lists are left alone


def test_show_follows_a_streaming_program_live(tiny_sglang_backend, capsys):
    from sgl_notebook import show

    state = qa.run(question="Stream this?", stream=True)
    show(state, mode="text")
    out = capsys.readouterr().out
    assert "[user] Stream this?" in out
    assert f"⟦answer: {state['answer']}⟧" in out


def test_show_in_widget_mode_ends_with_the_static_rendering(
    tiny_sglang_backend, shell, monkeypatch
):
    from IPython.display import DisplayHandle

    from sgl_notebook.display.live_program import ProgramDisplay, show

    updates = []
    monkeypatch.setattr(DisplayHandle, "update", lambda self, obj, **kw: updates.append(obj))
    state = qa.run(question="Widget?", stream=True)
    show(state, mode="widget")
    assert isinstance(updates[-1], ProgramDisplay)
    assert 'data-var="verdict"' in updates[-1]._repr_mimebundle_()["text/html"]


def test_loading_the_extension_does_not_import_sglang_or_openai():
    code = (
        "import sys\n"
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython(); ip.run_line_magic('load_ext', 'sgl_notebook')\n"
        "print('sglang' in sys.modules, 'openai' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-3:] == ["False", "False", "False"]
