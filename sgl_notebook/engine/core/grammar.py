"""Constrained decoding, the part both grammar backends share: keys, errors, compile cache.

SGLang compiles each request's regex / JSON schema / EBNF off the scheduler thread and caches the
result by key. A backend (``grammar_llguidance`` for the llama.cpp runner, ``grammar_xgrammar``
for the transformers runner) supplies the compiler; this base class builds it in a background
thread once the engine is first idle (compilers take a second or more to set up), compiles and
caches grammars, and hands out matchers with one interface: ``accept_token(id)``,
``is_terminated()``. Per step the scheduler asks the backend to mask the logits of the
constrained rows (numpy ``[B, V]``, in place).

An invalid grammar ends the request the way SGLang 0.4.10 does: an abort with status 400 and the
message ``Invalid grammar request: req.grammar_key=('regex', '...')`` (``... with cache hit:
key=...`` when the same invalid grammar is asked for again).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

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


def unpack_bitmask(bitmask: np.ndarray, vocab: int) -> np.ndarray:
    """``[B, ceil(V/32)]`` int32 bitmasks to ``[B, V]`` bools (bit j of word w: token 32w+j)."""
    bits = np.unpackbits(bitmask.view(np.uint8), axis=-1, bitorder="little")
    return bits[:, :vocab].astype(bool)


class GrammarBackend:
    """Compiles and caches grammars for one tokenizer; hands out matchers (subclass per library)."""

    name = "none"

    def __init__(self, vocab_size: int, start: bool = True) -> None:
        self.vocab_size = vocab_size
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

    # -- what a backend supplies ------------------------------------------------------------------
    def _build_compiler(self) -> Any:
        raise NotImplementedError

    def _compile(self, key: GrammarKey) -> Any:
        raise NotImplementedError

    def _new_matcher(self, compiled: Any) -> Any:
        raise NotImplementedError

    def mask_logits(self, logits: np.ndarray, matchers: dict[int, Any]) -> None:
        """Forbid, in place, every token the matcher of each constrained row would reject."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Build the compiler in a background thread (once; later calls do nothing)."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._init_compiler, name="grammar-init", daemon=True).start()

    def _init_compiler(self) -> None:
        try:
            self._compiler = self._build_compiler()
        except BaseException as exc:  # noqa: BLE001 -- reported when a grammar is first needed
            self._error = exc
        finally:
            self._ready.set()

    def is_cached(self, key: GrammarKey) -> bool:
        """True when ``matcher(key)`` answers at once (compiler ready, key compiled or invalid)."""
        with self._cache_lock:
            return self._ready.is_set() and key in self._cache

    def matcher_async(self, key: GrammarKey) -> Future[Any]:
        """``matcher(key)`` on the grammar thread, so the engine keeps decoding meanwhile."""
        return self._pool.submit(self.matcher, key)

    def matcher(self, key: GrammarKey) -> Any:
        """A fresh matcher for ``key``; raises :class:`InvalidGrammarError`."""
        self.start()
        self._ready.wait()
        if self._compiler is None:
            raise RuntimeError(f"{self.name} could not be initialised: {self._error}")
        with self._cache_lock:
            compiled = self._cache.get(key)
        if compiled is _INVALID:
            raise InvalidGrammarError(f"Invalid grammar request with cache hit: key={key!r}")
        if compiled is None:
            try:
                compiled = self._compile(key)
            except Exception as exc:  # noqa: BLE001 -- compilers raise several types
                logger.error("Hit invalid %s: key_string=%r, e=%r", key[0], key[1], exc)
                with self._cache_lock:
                    self._cache[key] = _INVALID
                raise InvalidGrammarError(
                    f"Invalid grammar request: req.grammar_key={key!r}"
                ) from exc
            with self._cache_lock:
                self._cache[key] = compiled
        return self._new_matcher(compiled)

    def shutdown(self, wait_for_init: float = 0.0) -> None:
        """Stop compiling; with ``wait_for_init``, also wait (seconds) for a compiler being built
        (it may read the model's vocabulary, which must outlive it)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if wait_for_init and self._started:
            self._ready.wait(wait_for_init)
