"""Incremental detokenization and stop-string handling, as SGLang 0.4.10's detokenizer does it.

Each request keeps a window of token ids that starts with the last 5 prompt tokens (so a leading
space or a merge with the prompt decodes right). New tokens are decoded together with the
"surrounding" ids already committed; text is committed only when it does not end in the UTF-8
replacement character, so a character split across tokens never streams half-formed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

INIT_OFFSET = 5  # SGLang's INIT_INCREMENTAL_DETOKENIZATION_OFFSET
REPLACEMENT_CHAR = "\ufffd"


def _is_cjk(ch: str) -> bool:
    return "CJK" in unicodedata.name(ch, "")


def printable_prefix(text: str) -> str:
    """The part of pending text that is safe to show now (same rule as SGLang's
    ``find_printable_text``): all of it after a newline or a CJK character, else up to the last
    space."""
    if text.endswith("\n"):
        return text
    if text and _is_cjk(text[-1]):
        return text
    if len(text) > 1 and _is_cjk(text[-2]):
        return text[:-1]
    return text[: text.rfind(" ") + 1]


def trim_stop_text(text: str, finish_reason: dict[str, Any] | None, no_stop_trim: bool) -> str:
    """Cut text at a matched stop string (unless ``no_stop_trim``)."""
    if no_stop_trim or not finish_reason:
        return text
    matched = finish_reason.get("matched")
    if isinstance(matched, str) and matched:
        pos = text.find(matched)
        return text[:pos] if pos != -1 else text
    return text


@dataclass
class IncrementalDetokenizer:
    """Cumulative text of one request's output ids."""

    tokenizer: Any
    prompt_ids: list[int]
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    decode_ids: list[int] = field(default_factory=list)
    surr_offset: int = 0
    read_offset: int = 0
    committed_text: str = ""

    def __post_init__(self) -> None:
        self.decode_ids = list(self.prompt_ids[-INIT_OFFSET:])
        self.surr_offset = 0
        self.read_offset = len(self.decode_ids)

    def _decode(self, ids: list[int]) -> str:
        text: str = self.tokenizer.decode(
            ids,
            skip_special_tokens=self.skip_special_tokens,
            spaces_between_special_tokens=self.spaces_between_special_tokens,
        )
        return text

    def add(self, token_ids: list[int]) -> None:
        """Append newly generated ids."""
        self.decode_ids.extend(token_ids)

    def text(self, *, finished: bool, drop_last_token: bool = False) -> str:
        """The cumulative text so far.

        While running, pending text that may still change (a split UTF-8 character or a word
        being built) is held back as SGLang does. When ``finished``, everything is flushed;
        ``drop_last_token`` leaves out a matched stop token id (EOS or ``stop_token_ids``).
        """
        read_ids = self.decode_ids[self.surr_offset :]
        if finished and drop_last_token and len(self.decode_ids) > self.read_offset:
            read_ids = read_ids[:-1]
        surr_text = self._decode(self.decode_ids[self.surr_offset : self.read_offset])
        new_text = self._decode(read_ids)[len(surr_text) :]
        if finished:
            return self.committed_text + new_text
        if new_text and not new_text.endswith(REPLACEMENT_CHAR):
            self.committed_text += new_text
            self.surr_offset = self.read_offset
            self.read_offset = len(self.decode_ids)
            return self.committed_text
        return self.committed_text + printable_prefix(new_text)

    def full_text(self) -> str:
        """Everything decoded so far, pending text included (for stop-string matching)."""
        surr_text = self._decode(self.decode_ids[self.surr_offset : self.read_offset])
        return (
            self.committed_text
            + self._decode(self.decode_ids[self.surr_offset :])[len(surr_text) :]
        )
