"""Sampling-parameter validation (SGLang 0.4.10's messages), sampling functions, detokenization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sgl_notebook.engine.core.detokenizer import IncrementalDetokenizer, trim_stop_text
from sgl_notebook.engine.core.prefix_cache import PrefixCache
from sgl_notebook.engine.core.sampling import (
    apply_penalties,
    sample_next_tokens,
    top_logprobs,
    validate_sampling_params,
)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"temperature": -0.5}, "temperature must be non-negative, got -0.5."),
        ({"top_p": 0.0}, "top_p must be in (0, 1], got 0.0."),
        ({"top_p": 1.5}, "top_p must be in (0, 1], got 1.5."),
        ({"min_p": 2}, "min_p must be in [0, 1], got 2."),
        ({"top_k": 0}, "top_k must be -1 (disable) or at least 1, got 0."),
        ({"top_k": -3}, "top_k must be -1 (disable) or at least 1, got -3."),
        ({"frequency_penalty": 3}, "frequency_penalty must be in [-2, 2], got 3."),
        ({"presence_penalty": -2.5}, "presence_penalty must be in [-2, 2], got -2.5."),
        ({"repetition_penalty": 2.5}, "repetition_penalty must be in [0, 2], got 2.5."),
        ({"min_new_tokens": -1}, "min_new_tokens must be in [0, max_new_tokens], got -1."),
        ({"max_new_tokens": -1}, "max_new_tokens must be at least 0, got -1."),
        (
            {"max_new_tokens": 4, "min_new_tokens": 5},
            "min_new_tokens must be in [0, max_new_tokens(4)], got 5.",
        ),
        ({"logit_bias": {"5000": 1.0}}, "logit_bias must has keys in [0, 999], got 5000."),
        (
            {"regex": "a", "json_schema": "{}"},
            "Only one of regex, json_schema, or ebnf can be set.",
        ),
    ],
)
def test_bad_values_raise_sglangs_messages(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_sampling_params(params, vocab_size=1000)
    assert str(info.value) == message


def test_unknown_key_raises_type_error_like_sglang() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'stop_regex'"):
        validate_sampling_params({"stop_regex": ["x"]})


def test_good_values_are_normalised() -> None:
    sp = validate_sampling_params(
        {"stop": "END", "stop_token_ids": None, "regex": None, "temperature": 0, "top_k": -1}
    )
    assert sp.stop == ["END"] and sp.stop_token_ids == [] and sp.regex is None
    assert sp.temperature == 0 and sp.top_k == -1
    assert validate_sampling_params(None).max_new_tokens == 128
    assert validate_sampling_params({"max_new_tokens": None}).max_new_tokens is None


def test_greedy_rows_take_argmax_and_sampled_rows_respect_top_k() -> None:
    rng = np.random.default_rng(0)
    logits = np.array([[0.0, 5.0, 1.0, 4.9], [0.0, 5.0, 1.0, 4.9]])
    seen = set()
    for _ in range(50):
        ids, logprobs = sample_next_tokens(
            logits.copy(),
            temperatures=np.array([1.0, 1.0]),
            top_ks=np.array([4, 2]),
            top_ps=np.array([1.0, 1.0]),
            min_ps=np.array([0.0, 0.0]),
            greedy=np.array([True, False]),
            rng=rng,
        )
        assert int(ids[0]) == 1
        seen.add(int(ids[1]))
    assert seen == {1, 3}  # top_k=2 keeps the two best tokens, and both get drawn
    assert logprobs is not None
    assert np.allclose(np.exp(logprobs).sum(-1), np.ones(2), atol=1e-5)
    assert top_logprobs(logprobs[0], 2)[0][1] == 1


def test_top_p_and_min_p_cut_the_tail() -> None:
    logits = np.log(np.array([[0.6, 0.3, 0.05, 0.05], [0.6, 0.3, 0.05, 0.05]]))
    for _ in range(30):
        ids, _ = sample_next_tokens(
            logits.copy(),
            temperatures=np.array([1.0, 1.0]),
            top_ks=np.array([4, 4]),
            top_ps=np.array([0.5, 1.0]),
            min_ps=np.array([0.0, 0.4]),
            greedy=np.array([False, False]),
        )
        assert int(ids[0]) == 0  # top_p 0.5: only the first token
        assert int(ids[1]) in (0, 1)  # min_p 0.4 of 0.6: 0.3 survives, 0.05 does not


def test_penalties() -> None:
    logits = np.array([[2.0, 2.0, -1.0]], dtype=np.float32)
    counts = np.array([[2.0, 0.0, 1.0]])
    seen = np.array([[True, False, True]])
    out = apply_penalties(
        logits.copy(),
        counts,
        seen,
        frequency=np.array([0.5]),
        presence=np.array([0.25]),
        repetition=np.array([2.0]),
    )
    # 2 - 1 - .25 = .75 -> /2 ; -1 - .5 - .25 = -1.75 -> *2
    assert out.tolist() == [[0.375, 2.0, -3.5]]


def test_incremental_detokenizer_never_streams_half_characters(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    text = " héllo wörld 😀 the end"
    ids = tok.encode(text, add_special_tokens=False)
    assert len(ids) > len(text.split())  # some characters span several tokens
    detok = IncrementalDetokenizer(tok, tok.encode("Prompt:", add_special_tokens=False))
    seen = []
    for token in ids:
        detok.add([token])
        seen.append(detok.text(finished=False))
    assert all("\ufffd" not in s for s in seen)
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:], strict=False))
    assert detok.text(finished=True) == text


def test_trim_stop_text() -> None:
    reason = {"type": "stop", "matched": "END"}
    assert trim_stop_text("abcENDdef", reason, no_stop_trim=False) == "abc"
    assert trim_stop_text("abcENDdef", reason, no_stop_trim=True) == "abcENDdef"
    assert trim_stop_text("abc", {"type": "stop", "matched": 7}, no_stop_trim=False) == "abc"


def test_prefix_cache_longest_match_lru_and_budget() -> None:
    evicted: list[str] = []
    cache: PrefixCache[str] = PrefixCache(max_tokens=10, on_evict=evicted.append)
    cache.insert([1, 2, 3, 4], "a")
    cache.insert([1, 2, 9], "b")
    hit = cache.match([1, 2, 3, 7], max_length=10)
    assert hit.length == 3 and hit.handle == "a"
    assert cache.match([1, 2, 3, 4, 5], max_length=2).length == 2
    assert cache.match([8], max_length=5).length == 0
    assert cache.covers([1, 2, 3]) and not cache.covers([1, 2, 3, 4, 5])
    assert not cache.insert([1, 2], "covered")  # a longer entry holds it already
    cache.insert([1, 2, 3, 4, 5, 6], "c")  # extends [1,2,3,4]: replaces it
    assert evicted == ["a"]
    assert cache.cached_tokens == 9 and len(cache) == 2
    cache.insert([7, 7, 7], "d")  # over budget: the least recently used entry goes
    assert cache.cached_tokens <= 10 and evicted == ["a", "b"]
    assert cache.evict_lru() and evicted[-1] == "c"
    cache.flush()
    assert evicted[-1] == "d"
    assert cache.cached_tokens == 0 and cache.match([1, 2], max_length=5).length == 0


def test_prefix_cache_entry_count_bound() -> None:
    evicted: list[int] = []
    cache: PrefixCache[int] = PrefixCache(max_tokens=100, max_entries=2, on_evict=evicted.append)
    for handle, prompt in enumerate(([1], [2], [3])):
        assert cache.insert(prompt, handle)
    assert len(cache) == 2 and evicted == [0]
