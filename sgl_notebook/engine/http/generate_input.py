"""The body of ``POST /generate`` and how it expands into single sequences.

:class:`GenerateReqInput` has SGLang 0.4.10's field names and types (``srt/managers/io_struct.py``)
so FastAPI validates the body as SGLang does (a wrong type is a 400 validation error; unknown
top-level keys are ignored). :func:`expand_request` is the pure part of SGLang's
``normalize_batch_and_arguments``: single vs batch, ``n > 1`` prompt-major expansion with fresh
rids, and per-item logprob options. It raises ``ValueError`` with SGLang's messages.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerateReqInput:
    text: list[str] | str | None = None
    input_ids: list[list[int]] | list[int] | None = None
    input_embeds: Any | None = None
    image_data: Any | None = None
    video_data: Any | None = None
    audio_data: Any | None = None
    sampling_params: list[dict[str, Any]] | dict[str, Any] | None = None
    rid: list[str] | str | None = None
    return_logprob: list[bool] | bool | None = None
    logprob_start_len: list[int] | int | None = None
    top_logprobs_num: list[int] | int | None = None
    token_ids_logprob: list[list[int]] | list[int] | None = None
    return_text_in_logprobs: bool = False
    stream: bool = False
    log_metrics: bool = True
    modalities: list[str] | None = None
    lora_path: list[str | None] | str | None = None
    session_params: list[dict[str, Any]] | dict[str, Any] | None = None
    custom_logit_processor: list[str | None] | str | None = None
    return_hidden_states: list[bool] | bool = False
    bootstrap_host: list[str] | str | None = None
    bootstrap_port: list[int | None] | int | None = None
    bootstrap_room: list[int] | int | None = None
    data_parallel_rank: int | None = None


@dataclass
class GenerateItem:
    """One sequence to generate, before tokenization."""

    rid: str
    text: str | None
    input_ids: list[int] | None
    sampling_params: dict[str, Any]
    return_logprob: bool = False
    logprob_start_len: int = -1
    top_logprobs_num: int = 0
    token_ids_logprob: list[int] | None = None


@dataclass
class ExpandedRequest:
    """A normalized ``/generate`` body: its items in output order."""

    is_single: bool
    items: list[GenerateItem]
    # For n > 1: one max_new_tokens=0 item per prompt, run first to cache the shared prefix.
    prefix_items: list[GenerateItem] = field(default_factory=list)
    stream: bool = False
    return_text_in_logprobs: bool = False


def new_rid() -> str:
    """A bare 32-hex request id, as SGLang's ``uuid.uuid4().hex``."""
    return uuid.uuid4().hex


def _prompts(obj: GenerateReqInput) -> tuple[bool, list[Any]]:
    """(single?, the prompts: texts or token id lists)."""
    if obj.input_embeds is not None:
        raise ValueError("input_embeds is not supported by the CPU engine; send text or input_ids.")
    if (obj.text is None and obj.input_ids is None) or (
        obj.text is not None and obj.input_ids is not None
    ):
        raise ValueError("Either text, input_ids or input_embeds should be provided.")
    if obj.text is not None:
        is_single = isinstance(obj.text, str)
        return is_single, [obj.text] if is_single else list(obj.text)
    assert obj.input_ids is not None
    if len(obj.input_ids) == 0:
        raise ValueError("input_ids cannot be empty.")
    is_single = isinstance(obj.input_ids[0], int)
    return is_single, [obj.input_ids] if is_single else list(obj.input_ids)


def _sampling_params(obj: GenerateReqInput, batch: int) -> tuple[list[dict[str, Any]], int]:
    """(one sampling_params dict per prompt, the parallel sample count ``n``)."""
    sps: list[dict[str, Any]]
    if isinstance(obj.sampling_params, list):
        sps = list(obj.sampling_params)
        if len(sps) != batch:
            raise ValueError("The length of sampling_params should be equal to the batch size.")
    else:
        sps = [dict(obj.sampling_params or {})] * batch
    n_values = {int(sp.get("n", 1) or 1) for sp in sps}
    if len(n_values) > 1:
        raise ValueError(
            "The parallel_sample_num should be the same for all samples in sample params."
        )
    return sps, n_values.pop() if n_values else 1


def _rids(obj: GenerateReqInput, batch: int, is_single: bool) -> list[str]:
    if obj.rid is None:
        return [new_rid() for _ in range(batch)]
    if isinstance(obj.rid, list):
        if len(obj.rid) != batch:
            raise ValueError(
                "The specified rids length mismatch with the batch_size for batch processing."
            )
        return list(obj.rid)
    if isinstance(obj.rid, str):
        return [obj.rid] if is_single else [f"{obj.rid}_{i}" for i in range(batch)]
    raise ValueError("The rid should be a string or a list of strings.")


@dataclass
class _Items:
    """Builds the :class:`GenerateItem` of prompt ``i``, with its per-item logprob options."""

    prompts: list[Any]
    return_logprob: list[Any]
    start_len: list[Any]
    top_num: list[Any]
    tid: Any
    tid_is_batch: bool

    @classmethod
    def of(cls, obj: GenerateReqInput, prompts: list[Any], n: int) -> _Items:
        batch = len(prompts)

        def option(value: Any, default: Any, name: str) -> list[Any]:
            if isinstance(value, list) and name != "token_ids_logprob":
                if n > 1:
                    raise ValueError(f"Cannot use list {name} with parallel_sample_num > 1")
                return list(value)
            return [default if value is None else value] * batch

        return_logprob = option(obj.return_logprob, False, "return_logprob")
        start_len = option(obj.logprob_start_len, -1, "logprob_start_len")
        top_num = option(obj.top_logprobs_num, 0, "top_logprobs_num")
        tid = obj.token_ids_logprob
        tid_is_batch = bool(tid) and isinstance(tid[0], list)  # type: ignore[index]
        if tid_is_batch and n > 1:
            raise ValueError("Cannot use list token_ids_logprob with parallel_sample_num > 1")
        return cls(prompts, return_logprob, start_len, top_num, tid, tid_is_batch)

    def __call__(self, i: int, rid: str, sampling: dict[str, Any]) -> GenerateItem:
        prompt = self.prompts[i]
        return GenerateItem(
            rid=rid,
            text=prompt if isinstance(prompt, str) else None,
            input_ids=None if isinstance(prompt, str) else list(prompt),
            sampling_params=sampling,
            return_logprob=bool(self.return_logprob[i]),
            logprob_start_len=int(self.start_len[i]),
            top_logprobs_num=int(self.top_num[i]),
            token_ids_logprob=self.tid[i] if self.tid_is_batch else self.tid,
        )


def expand_request(obj: GenerateReqInput) -> ExpandedRequest:
    """Expand a ``/generate`` body into single sequences, with SGLang 0.4.10's errors."""
    is_single, prompts = _prompts(obj)
    batch = len(prompts)
    sps, n = _sampling_params(obj, batch)
    rids = _rids(obj, batch, is_single)
    item = _Items.of(obj, prompts, n)
    if n == 1:
        items = [item(i, rids[i], dict(sps[i])) for i in range(batch)]
        return ExpandedRequest(
            is_single, items, stream=obj.stream,
            return_text_in_logprobs=obj.return_text_in_logprobs,
        )

    # n > 1: a batch of n samples per prompt, prompt-major, each with a fresh rid.
    prefix_items = []
    items = []
    for i in range(batch):
        prefix_sp = copy.copy(sps[i])
        prefix_sp["max_new_tokens"] = 0
        prefix_sp.pop("n", None)
        prefix_items.append(item(i, new_rid(), prefix_sp))
        for _ in range(n):
            sp = dict(sps[i])
            sp.pop("n", None)
            items.append(item(i, new_rid(), sp))
    return ExpandedRequest(
        False, items, prefix_items, stream=obj.stream,
        return_text_in_logprobs=obj.return_text_in_logprobs,
    )
