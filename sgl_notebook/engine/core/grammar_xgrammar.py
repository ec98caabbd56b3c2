"""Grammars with xgrammar, SGLang's default grammar backend, for the transformers runner.

One ``GrammarCompiler`` is built from the Hugging Face tokenizer (see ``grammar.GrammarBackend``
for the shared compile cache and SGLang's invalid-grammar messages); masks are applied through
torch views of the scheduler's numpy logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .grammar import GrammarBackend, GrammarKey


class XGrammarBackend(GrammarBackend):
    """xgrammar over a transformers tokenizer."""

    name = "xgrammar"

    def __init__(self, tokenizer: Any, vocab_size: int, start: bool = True) -> None:
        self._tokenizer = tokenizer
        super().__init__(vocab_size, start=start)

    def _build_compiler(self) -> Any:
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(self._tokenizer, vocab_size=self.vocab_size)
        return xgr.GrammarCompiler(info)

    def _compile(self, key: GrammarKey) -> Any:
        kind, text = key
        if kind == "json":
            if text == "$$ANY$$":
                return self._compiler.compile_builtin_json_grammar()
            # Unlike SGLang's xgrammar default, no free whitespace between JSON tokens: small
            # models otherwise tend to loop on newlines and never close the object.
            return self._compiler.compile_json_schema(schema=text, any_whitespace=False)
        if kind == "regex":
            return self._compiler.compile_regex(text)
        if kind == "ebnf":
            return self._compiler.compile_grammar(text)
        raise ValueError(f"unsupported grammar kind {kind!r}")

    def _new_matcher(self, compiled: Any) -> Any:
        import xgrammar as xgr

        return xgr.GrammarMatcher(compiled)

    def mask_logits(self, logits: np.ndarray, matchers: dict[int, Any]) -> None:
        """logits: [B, V'] (V' may exceed the tokenizer's vocab: padding columns are masked)."""
        import torch
        import xgrammar as xgr

        if not matchers:
            return
        bitmask = xgr.allocate_token_bitmask(logits.shape[0], self.vocab_size)
        for row, matcher in matchers.items():
            matcher.fill_next_token_bitmask(bitmask, row)
        rows = sorted(matchers)
        width = min(logits.shape[-1], self.vocab_size)
        head = torch.from_numpy(np.ascontiguousarray(logits[:, :width]))
        xgr.apply_token_bitmask_inplace(head, bitmask, indices=rows)
        logits[:, :width] = head.numpy()
        logits[rows, width:] = -np.inf
