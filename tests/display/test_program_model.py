"""ProgramState rendering from plain data (the live tests use real ProgramStates)."""

from __future__ import annotations

from sgl_notebook.display.program_model import build_program_view, select_scores
from sgl_notebook.display.program_render import render_program_html, render_program_text

TEXT = "SYSTEM: Be brief.\nUSER: Capital of France?\nASSISTANT: Paris\nUSER: Sure?\nASSISTANT: yes"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
    {"role": "assistant", "content": "Paris"},
    {"role": "user", "content": "Sure?"},
    {"role": "assistant", "content": "yes"},
]
SELECT_META = {
    "normalized_prompt_logprobs": [-0.2, -1.5],
    # prefix + choice asked from a token before the choice, text included
    "input_token_logprobs": [[[-1.0, 1, " "], [-0.1, 2, "yes"]], [[-1.0, 1, " "], [-0.7, 3, "no"]]],
    "output_token_logprobs": [[], []],
}


def _view():
    return build_program_view(
        TEXT,
        MESSAGES,
        {"city": "Paris", "sure": "yes", "scope": 12},
        {"city": {"id": "r1", "finish_reason": {"type": "stop"}}, "sure": SELECT_META},
    )


def test_messages_become_role_blocks_with_labelled_spans():
    view = _view()
    roles = [b.role for b in view.blocks if b.role]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    spans = [(s.var, s.kind, s.text) for b in view.blocks for s in b.segments if s.var]
    assert spans == [("city", "gen", "Paris"), ("sure", "select", "yes")]


def test_select_scores_recover_choice_texts_and_mark_the_decision():
    scores = select_scores("ASSISTANT: ", "yes", SELECT_META)
    assert [(c.choice, c.chosen) for c in scores] == [("yes", True), ("no", False)]
    assert scores[0].score == -0.2


def test_html_rendering_has_roles_labels_scores_and_escapes():
    view = build_program_view("Q: <b>? A: <i>", [], {"a": "<i>"}, {"a": {}})
    html = render_program_html(view)
    assert "&lt;b&gt;" in html and "<b>?" not in html
    assert 'data-var="a"' in html
    full = render_program_html(_view())
    for role in ("system", "user", "assistant"):
        assert f"sgl-role-{role}" in full
    assert "sure scores" in full and "-1.500" in full


def test_plain_text_form_is_readable():
    text = render_program_text(_view())
    assert "[assistant] ⟦city: Paris⟧" in text
    assert "sure scores: yes=-0.200, no=-1.500" in text


def test_fork_variables_are_shown_side_by_side():
    view = build_program_view("Tips:", [], {"tip": ["one", "two"]}, {})
    assert view.forks == {"tip": ("one", "two")}
    html = render_program_html(view)
    assert 'class="sgl-fork"' in html and "tip[0]" in html and "tip[1]" in html
    assert "[fork tip[1]] two" in render_program_text(view)


def test_repeated_values_are_found_left_to_right():
    view = build_program_view("a=1 b=1", [], {"a": "1", "b": "1"}, {"a": {}, "b": {}})
    segments = view.blocks[0].segments
    assert [(s.text, s.var) for s in segments] == [
        ("a=", None),
        ("1", "a"),
        (" b=", None),
        ("1", "b"),
    ]


def test_an_open_role_is_marked_while_streaming():
    view = build_program_view(
        "USER: hi\nASSISTANT: Par",
        [{"role": "user", "content": "hi"}],
        {},
        {},
        open_role="assistant",
    )
    assert view.blocks[-1].role == "assistant" and view.blocks[-1].open
    assert "assistant …" in render_program_html(view)


def test_a_value_also_in_the_prompt_is_labelled_where_it_was_generated():
    view = build_program_view("Answer 1 or 2. Rating: 1", [], {"rating": "1"}, {"rating": {}})
    segments = view.blocks[0].segments
    assert [(s.text, s.var) for s in segments] == [
        ("Answer 1 or 2. Rating: ", None),
        ("1", "rating"),
    ]


def test_template_walk_keeps_a_whitespace_answer_inside_its_message():
    prefix, suffix = "<|im_start|>assistant\n", "<|im_end|>\n"
    text = "<|im_start|>user\nhi<|im_end|>\n" + prefix + "\n\n" + suffix
    view = build_program_view(
        text,
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}],
        {"answer": "\n\n"},
        {"answer": {}},
        templates=[("<|im_start|>user\n", suffix), (prefix, suffix)],
    )
    assert [b.role for b in view.blocks] == ["user", "assistant"]
    assistant = view.blocks[1]
    assert [(s.var, s.text) for s in assistant.segments] == [("answer", "\n\n")]
    assert assistant.prefix == prefix and assistant.suffix == suffix
    assert "<|im_end|>" not in render_program_text(view)


def test_an_empty_generation_is_still_named():
    view = build_program_view("In summary, ", [], {"summary": ""}, {"summary": {}})
    assert view.empty == ("summary",)
    assert 'data-var="summary = &#x27;&#x27;"' in render_program_html(view)
    assert "⟦summary: ⟧ (empty)" in render_program_text(view)
