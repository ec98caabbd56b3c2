"""Grammars with llguidance (SGLang's ``--grammar-backend llguidance``) for the llama.cpp runner.

llguidance compiles regex, JSON schema and Lark/GBNF grammars against the llama.cpp vocabulary
itself (``llguidance.llamacpp``), needs no torch, and fills a numpy token bitmask per step.
JSON objects are compact (no free whitespace between tokens), as the xgrammar backend does here:
small models otherwise loop on newlines and never close the object.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .grammar import GrammarBackend, GrammarKey, unpack_bitmask

JSON_OPTIONS = {"whitespace_flexible": False}


class LLGuidanceMatcher:
    """An ``LLMatcher`` behind the interface the scheduler uses (xgrammar's method names).

    llguidance stops as soon as the grammar is complete, before any end-of-sequence token;
    xgrammar terminates only once the EOS token is accepted. The scheduler relies on the latter
    (the matched EOS token is trimmed from the text), so a complete grammar here allows only EOS
    tokens (llguidance's mask does that) and counts as terminated once one is accepted.
    """

    def __init__(self, matcher: Any, eos_token_ids: list[int]) -> None:
        self.inner = matcher
        self._eos = frozenset(eos_token_ids)
        self._ended = False

    def accept_token(self, token_id: int) -> bool:
        if token_id in self._eos and self.inner.is_accepting():
            self._ended = True
        return bool(self.inner.consume_token(token_id))

    def is_terminated(self) -> bool:
        return self._ended or bool(self.inner.is_error())


class LLGuidanceBackend(GrammarBackend):
    """llguidance over a llama.cpp vocabulary (``vocab`` is a ``llama_vocab_p``)."""

    name = "llguidance"

    def __init__(self, vocab: Any, vocab_size: int, eos_token_ids: list[int], start: bool = True):
        self._vocab = vocab
        self._eos = eos_token_ids
        super().__init__(vocab_size, start=start)

    def _build_compiler(self) -> Any:
        from llguidance.llamacpp import lltokenizer_from_vocab

        return lltokenizer_from_vocab(self._vocab, eos_token=self._eos or None)

    def _compile(self, key: GrammarKey) -> str:
        from llguidance import LLMatcher
        from llguidance.gbnf_to_lark import any_to_lark

        kind, text = key
        if kind == "json":
            schema = {"type": "object"} if text == "$$ANY$$" else json.loads(text)
            grammar = LLMatcher.grammar_from_json_schema(schema, defaults=JSON_OPTIONS)
        elif kind == "regex":
            grammar = LLMatcher.grammar_from_regex(text)
        elif kind == "ebnf":
            grammar = LLMatcher.grammar_from_lark(any_to_lark(text))
        else:
            raise ValueError(f"unsupported grammar kind {kind!r}")
        is_error, messages = LLMatcher.validate_grammar_with_warnings(grammar, self._compiler)
        if is_error:
            raise ValueError(messages[0] if messages else "invalid grammar")
        return grammar

    def _new_matcher(self, compiled: str) -> LLGuidanceMatcher:
        from llguidance import LLMatcher

        matcher = LLMatcher(self._compiler, compiled, log_level=0)
        if matcher.is_error():
            raise ValueError(matcher.get_error())
        return LLGuidanceMatcher(matcher, self._eos)

    def mask_logits(self, logits: np.ndarray, matchers: dict[int, Any]) -> None:
        if not matchers:
            return
        words = (self.vocab_size + 31) // 32
        bitmask = np.full((len(matchers), words), -1, dtype=np.int32)
        rows = sorted(matchers)
        for i, row in enumerate(rows):
            target = bitmask[i]
            matchers[row].inner.unsafe_compute_mask_ptr(target.ctypes.data, target.nbytes)
        allowed = unpack_bitmask(bitmask, min(self.vocab_size, logits.shape[-1]))
        for i, row in enumerate(rows):
            width = allowed.shape[1]
            logits[row, :width][~allowed[i]] = -np.inf
            logits[row, width:] = -np.inf
