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


def _per_item(value: Any, i: int, is_list: bool) -> Any:
    return value[i] if is_list else value


def expand_request(obj: GenerateReqInput) -> ExpandedRequest:
    """Expand a ``/generate`` body into single sequences, with SGLang 0.4.10's errors."""
    if obj.input_embeds is not None:
        raise ValueError("input_embeds is not supported by the CPU engine; send text or input_ids.")
    if (obj.text is None and obj.input_ids is None) or (
        obj.text is not None and obj.input_ids is not None
    ):
        raise ValueError("Either text, input_ids or input_embeds should be provided.")

    if obj.text is not None:
        is_single = isinstance(obj.text, str)
        prompts: list[Any] = [obj.text] if is_single else list(obj.text)
    else:
        assert obj.input_ids is not None
        if len(obj.input_ids) == 0:
            raise ValueError("input_ids cannot be empty.")
        is_single = isinstance(obj.input_ids[0], int)
        prompts = [obj.input_ids] if is_single else list(obj.input_ids)
    batch = len(prompts)

    sp_list = isinstance(obj.sampling_params, list)
    sps: list[dict[str, Any]]
    if isinstance(obj.sampling_params, list):
        sps = list(obj.sampling_params)
    else:
        sps = [dict(obj.sampling_params or {})] * batch
    if sp_list and len(sps) != batch:
        raise ValueError("The length of sampling_params should be equal to the batch size.")
    n_values = {int(sp.get("n", 1) or 1) for sp in sps}
    if len(n_values) > 1:
        raise ValueError(
            "The parallel_sample_num should be the same for all samples in sample params."
        )
    n = n_values.pop() if n_values else 1

    rid_list = isinstance(obj.rid, list)
    if obj.rid is None:
        rids = [new_rid() for _ in range(batch)]
    elif rid_list:
        rids = list(obj.rid)
        if len(rids) != batch:
            raise ValueError(
                "The specified rids length mismatch with the batch_size for batch processing."
            )
    elif isinstance(obj.rid, str):
        rids = [obj.rid] if is_single else [f"{obj.rid}_{i}" for i in range(batch)]
    else:
        raise ValueError("The rid should be a string or a list of strings.")

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

    def item(i: int, rid: str, sampling: dict[str, Any]) -> GenerateItem:
        prompt = prompts[i]
        return GenerateItem(
            rid=rid,
            text=prompt if isinstance(prompt, str) else None,
            input_ids=None if isinstance(prompt, str) else list(prompt),
            sampling_params=sampling,
            return_logprob=bool(return_logprob[i]),
            logprob_start_len=int(start_len[i]),
            top_logprobs_num=int(top_num[i]),
            token_ids_logprob=(tid[i] if tid_is_batch else tid),  # type: ignore[index,arg-type]
        )

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
