"""Constrained decoding with xgrammar, SGLang's default grammar backend.

One ``GrammarCompiler`` is built from the tokenizer in a background thread once the engine is
first idle (importing xgrammar takes seconds and would slow the startup). It compiles each
request's regex / JSON schema / EBNF, cached by key. Each constrained request gets a
``GrammarMatcher``; per step the scheduler asks for a token bitmask for the constrained rows,
masks their logits, and feeds back the sampled token.

An invalid grammar ends the request the way SGLang 0.4.10 does: an abort with status 400 and
the message ``Invalid grammar request: req.grammar_key=('regex', '...')`` (``... with cache hit:
key=...`` when the same invalid grammar is asked for again).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from .types import SamplingParams

logger = logging.getLogger(__name__)

GrammarKey = tuple[str, str]
_INVALID = object()


class InvalidGrammarError(ValueError):
    """The request's regex / json_schema / ebnf did not compile; ``str()`` is SGLang's message."""


def grammar_key(sp: SamplingParams) -> GrammarKey | None:
    """SGLang's cache key for a request's constraint, or None when it has none."""
    if sp.json_schema is not None:
        return ("json", sp.json_schema)
    if sp.regex is not None:
        return ("regex", sp.regex)
    if sp.ebnf is not None:
        return ("ebnf", sp.ebnf)
    if sp.structural_tag:
        return ("structural_tag", sp.structural_tag)
    return None


class GrammarBackend:
    """Compiles and caches grammars for one tokenizer; hands out matchers."""

    def __init__(self, tokenizer: Any, vocab_size: int, start: bool = True) -> None:
        self.vocab_size = vocab_size
        self._tokenizer = tokenizer
        self._compiler: Any = None
        self._error: BaseException | None = None
        self._cache: dict[GrammarKey, Any] = {}
        self._ready = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grammar")
        if start:
            self.start()

    def start(self) -> None:
        """Build the compiler in a background thread (once; later calls do nothing)."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._init_compiler, name="grammar-init", daemon=True).start()

    def _init_compiler(self) -> None:
        try:
            import xgrammar as xgr

            info = xgr.TokenizerInfo.from_huggingface(self._tokenizer, vocab_size=self.vocab_size)
            self._compiler = xgr.GrammarCompiler(info)
        except BaseException as exc:  # noqa: BLE001 -- reported when a grammar is first needed
            self._error = exc
        finally:
            self._ready.set()

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

    def is_cached(self, key: GrammarKey) -> bool:
        """True when ``matcher(key)`` answers at once (compiler ready, key compiled or invalid)."""
        with self._cache_lock:
            return self._ready.is_set() and key in self._cache

    def matcher_async(self, key: GrammarKey) -> Future[Any]:
        """``matcher(key)`` on the grammar thread, so the engine keeps decoding meanwhile."""
        return self._pool.submit(self.matcher, key)

    def matcher(self, key: GrammarKey) -> Any:
        """A fresh ``GrammarMatcher`` for ``key``; raises :class:`InvalidGrammarError`."""
        self.start()
        self._ready.wait()
        import xgrammar as xgr

        if self._compiler is None:
            raise RuntimeError(f"xgrammar could not be initialised: {self._error}")
        with self._cache_lock:
            compiled = self._cache.get(key)
        if compiled is _INVALID:
            raise InvalidGrammarError(f"Invalid grammar request with cache hit: key={key!r}")
        if compiled is None:
            try:
                compiled = self._compile(key)
            except Exception as exc:  # noqa: BLE001 -- xgrammar raises several types
                logger.error("Hit invalid %s: key_string=%r, e=%r", key[0], key[1], exc)
                with self._cache_lock:
                    self._cache[key] = _INVALID
                raise InvalidGrammarError(
                    f"Invalid grammar request: req.grammar_key={key!r}"
                ) from exc
            with self._cache_lock:
                self._cache[key] = compiled
        return xgr.GrammarMatcher(compiled)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def allocate_bitmask(self, rows: int) -> torch.Tensor:
        import xgrammar as xgr

        return xgr.allocate_token_bitmask(rows, self.vocab_size)

    def mask_logits(self, logits: torch.Tensor, matchers: dict[int, Any]) -> None:
        """Forbid, in place, every token the matcher of each constrained row would reject.

        logits: [B, V'] (V' may exceed the tokenizer's vocab: padding columns are masked too).
        """
        import xgrammar as xgr

        if not matchers:
            return
        bitmask = self.allocate_bitmask(logits.shape[0])
        for row, matcher in matchers.items():
            matcher.fill_next_token_bitmask(bitmask, row)
        rows = sorted(matchers)
        width = min(logits.shape[-1], self.vocab_size)
        if width == logits.shape[-1]:
            xgr.apply_token_bitmask_inplace(logits, bitmask, indices=rows)
            return
        # The model pads its vocabulary: mask a contiguous copy, forbid the padding columns.
        head = logits[:, :width].contiguous()
        xgr.apply_token_bitmask_inplace(head, bitmask, indices=rows)
        logits[:, :width] = head
        logits[rows, width:] = float("-inf")
