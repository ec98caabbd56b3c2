"""The three request modes against the real engine (tiny model), streamed and not, in a real
InteractiveShell (terminal-style output): same answers, per-sample usage, constraints."""

from __future__ import annotations

import re

import pytest

from tests.magics.conftest import run


@pytest.fixture
def tiny(ipshell, magics, tiny_engine):
    assert run(ipshell, f"%sgl connect {tiny_engine.url} --name modes-tiny").error_in_exec is None
    yield ipshell
    run(ipshell, "%sgl stop --all")


def _results(shell, name):
    value = shell.user_ns[name]
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("mode", ["chat", "complete", "generate"])
def test_streamed_and_whole_answers_agree(tiny, mode, capsys):
    line = f"--mode {mode} --max-tokens 6 --temperature 0"
    assert run(tiny, f"%%sgl {line} -o streamed\nOnce upon a time").error_in_exec is None
    assert run(tiny, f"%%sgl {line} --no-stream -o whole\nOnce upon a time").error_in_exec is None
    streamed, whole = tiny.user_ns["streamed"], tiny.user_ns["whole"]
    assert streamed.text == whole.text
    assert streamed.usage["completion_tokens"] == whole.usage["completion_tokens"] == 6
    assert streamed.finish_reason == whole.finish_reason == "length"
    assert streamed.tokens_per_s is not None and whole.tokens_per_s is None
    out = capsys.readouterr().out
    assert out.count("finish: length") == 2  # the terminal got both answers and their figures


def test_native_samples_keep_their_own_counts(tiny):
    for flags in ("", "--no-stream"):
        cell = f"%%sgl --mode generate --n 2 --max-tokens 3 {flags} -o pair\nOnce"
        assert run(tiny, cell).error_in_exec is None
        pair = _results(tiny, "pair")
        assert [r.index for r in pair] == [0, 1]
        assert all(r.usage["completion_tokens"] == 3 and r.text for r in pair)


def test_constraints_in_every_mode(tiny):
    for mode in ("chat", "complete", "generate"):
        assert (
            run(tiny, f"%%sgl --mode {mode} --regex '[0-9]{{3}}' -o num\nA number:").error_in_exec
            is None
        )
        # exactly three digits: the regex reached the server intact (IPython would expand
        # `{3}` in a magic line into `3` unless the magic opts out of variable expansion)
        assert re.fullmatch(r"[0-9]{3}", tiny.user_ns["num"].text), mode
        cell = f"%%sgl --mode {mode} --choices red,green -o pick\nA colour:"
        assert run(tiny, cell).error_in_exec is None
        assert tiny.user_ns["pick"].text in ("red", "green"), mode


def test_logprobs_in_every_mode(tiny):
    for mode in ("chat", "complete", "generate"):
        assert (
            run(tiny, f"%%sgl --mode {mode} --logprobs --max-tokens 3 -o lp\nHi").error_in_exec
            is None
        )
        result = tiny.user_ns["lp"]
        assert result.logprobs and len(result.logprobs) == 3, mode
        assert "".join(t.token for t in result.logprobs) == result.text
        assert all(len(t.top) >= 1 for t in result.logprobs)
        html = result._repr_mimebundle_()["text/html"]
        assert html.count('class="sgl-tok"') == 3
