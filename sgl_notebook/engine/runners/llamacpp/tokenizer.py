"""A Hugging Face-shaped tokenizer over a GGUF file's own vocabulary (llama.cpp), no transformers.

The engine's HTTP layer and detokenizer use a small part of the transformers tokenizer API:
``tokenizer(text, add_special_tokens=...)["input_ids"]``, ``encode``, ``decode(ids,
skip_special_tokens=..., spaces_between_special_tokens=...)``, ``apply_chat_template``, the
``bos``/``eos`` ids and the ``chat_template`` attribute. :class:`GGUFTokenizer` gives exactly that
from llama.cpp's tokenizer, and renders the GGUF's chat template as transformers would.
"""

from __future__ import annotations

import ctypes
from typing import Any

from .chat_template import render_chat_template


class GGUFTokenizer:
    """Tokenizer of a loaded llama.cpp model (``vocab`` is its ``llama_vocab_p``)."""

    def __init__(self, vocab: Any, chat_template: str | None, add_bos: bool) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.vocab = vocab
        self.chat_template = chat_template
        self.add_bos = add_bos
        self.vocab_size = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self.bos_token_id = self._token_or_none(llama_cpp.llama_vocab_bos(vocab))
        self.eos_token_id = self._token_or_none(llama_cpp.llama_vocab_eos(vocab))
        self.bos_token = self._piece(self.bos_token_id)
        self.eos_token = self._piece(self.eos_token_id)
        self._piece_buf = ctypes.create_string_buffer(256)

    def _token_or_none(self, token: int) -> int | None:
        return int(token) if 0 <= token < self.vocab_size else None

    def _piece(self, token: int | None) -> str | None:
        if token is None:
            return None
        buf = ctypes.create_string_buffer(256)
        n = self._lib.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")

    def __len__(self) -> int:
        return self.vocab_size

    # -- text -> ids ----------------------------------------------------------------------------
    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of ``text``; special tokens written in the text are parsed as such (as HF)."""
        data = text.encode("utf-8")
        add = add_special_tokens and self.add_bos
        capacity = len(data) + 8
        while True:
            out = (self._lib.llama_token * capacity)()
            n = self._lib.llama_tokenize(self.vocab, data, len(data), out, capacity, add, True)
            if n >= 0:
                return list(out[:n])
            capacity = -n

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text, add_special_tokens=add_special_tokens)}

    # -- ids -> text ----------------------------------------------------------------------------
    def decode_bytes(self, ids: list[int], skip_special_tokens: bool = True) -> bytes:
        # llama.cpp aborts the process on an id outside the vocabulary; such ids decode to
        # nothing here (the scheduler refuses them with SGLang's 400 anyway).
        ids = [i for i in ids if 0 <= i < self.vocab_size]
        if not ids:
            return b""
        tokens = (self._lib.llama_token * len(ids))(*ids)
        capacity = 8 * len(ids) + 16
        while True:
            buf = ctypes.create_string_buffer(capacity)
            n = self._lib.llama_detokenize(
                self.vocab, tokens, len(ids), buf, capacity, False, not skip_special_tokens
            )
            if n >= 0:
                return buf.raw[:n]
            capacity = -n

    def decode(
        self,
        ids: list[int] | int,
        skip_special_tokens: bool = False,
        spaces_between_special_tokens: bool = True,
    ) -> str:
        """Text of ``ids``; a character split across tokens shows as U+FFFD, as in HF."""
        if isinstance(ids, int):
            ids = [ids]
        return self.decode_bytes(list(ids), skip_special_tokens).decode("utf-8", errors="replace")

    # -- chat -----------------------------------------------------------------------------------
    def apply_chat_template(
        self,
        messages: list[dict[str, Any]],
        tokenize: bool = True,
        add_generation_prompt: bool = False,
        **kwargs: Any,
    ) -> Any:
        if not self.chat_template:
            raise ValueError("This model has no chat template (tokenizer.chat_template).")
        specials = {
            name: value
            for name, value in (("bos_token", self.bos_token), ("eos_token", self.eos_token))
            if value is not None
        }
        text = render_chat_template(
            self.chat_template,
            messages,
            add_generation_prompt=add_generation_prompt,
            special_tokens=specials,
            **kwargs,
        )
        return self.encode(text, add_special_tokens=False) if tokenize else text
