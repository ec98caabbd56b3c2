"""The contract between the engine's HTTP layer (``engine/http_*.py``) and its scheduler
(``engine/scheduler.py``).

The HTTP layer validates and tokenizes a request into a :class:`GenerationRequest`, submits it to
the scheduler with a callback, and turns each :class:`RequestOutput` into SGLang's wire shapes.
The scheduler runs on one engine thread; callbacks are called on that thread and must not block
(the HTTP layer forwards them to asyncio with ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# [logprob or None, token id, token text or None] -- SGLang's logprob triple.
LogprobEntry = list[Any]


@dataclass
class SamplingParams:
    """SGLang 0.4.10's sampling parameters (``srt/sampling/sampling_params.py``), same defaults."""

    max_new_tokens: int | None = 128
    min_new_tokens: int = 0
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    min_p: float = 0.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    n: int = 1
    regex: str | None = None
    json_schema: str | None = None
    ebnf: str | None = None
    structural_tag: str | None = None
    ignore_eos: bool = False
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    no_stop_trim: bool = False
    custom_params: dict[str, Any] | None = None
    stream_interval: int | None = None
    logit_bias: dict[str, float] | None = None


@dataclass
class GenerationRequest:
    """One sequence to generate; the HTTP layer expands a batch or ``n > 1`` into several."""

    rid: str
    input_ids: list[int]
    sampling: SamplingParams
    return_logprob: bool = False
    logprob_start_len: int = -1
    top_logprobs_num: int = 0
    token_ids_logprob: list[int] | None = None
    return_text_in_logprobs: bool = False
    stream: bool = False


@dataclass
class RequestOutput:
    """A cumulative snapshot of one request, pushed after every step that changed it.

    ``text`` and ``output_ids`` are cumulative (SGLang streams cumulative text); ``text`` has the
    matched stop string removed unless ``no_stop_trim``. ``finish_reason`` is None until the
    request ends, then one of SGLang's shapes: ``{"type": "stop", "matched": id_or_str}``,
    ``{"type": "length", "length": n}``, ``{"type": "abort", "message": ...}``.
    Logprob lists are cumulative and follow SGLang's layout (triples; first input entry's
    logprob is None); they are None when logprobs were not requested.
    """

    rid: str
    text: str
    output_ids: list[int]
    finished: bool
    finish_reason: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    input_token_logprobs: list[LogprobEntry] | None = None
    output_token_logprobs: list[LogprobEntry] | None = None
    input_top_logprobs: list[list[LogprobEntry] | None] | None = None
    output_top_logprobs: list[list[LogprobEntry] | None] | None = None
    input_token_ids_logprob: list[list[LogprobEntry] | None] | None = None
    output_token_ids_logprob: list[list[LogprobEntry] | None] | None = None


OutputCallback = Callable[[RequestOutput], None]


@dataclass
class SchedulerSnapshot:
    """What ``/get_server_info`` and ``/metrics`` need from the scheduler, read at one moment.

    ``used_tokens`` counts KV slots held by live requests (SGLang's ``#token``);
    ``token_usage`` is ``used_tokens / max_total_num_tokens``. ``last_gen_throughput`` is the
    figure of the last ``Decode batch.`` line; ``last_cache_hit_rate`` is cached / prompt tokens
    of the last prefill batch. The ``*_total`` fields are counters since start.
    """

    running: int = 0
    queued: int = 0
    used_tokens: int = 0
    max_total_num_tokens: int = 0
    token_usage: float = 0.0
    max_running_requests: int = 0
    last_gen_throughput: float = 0.0
    last_cache_hit_rate: float = 0.0
    prefix_cache_tokens: int = 0
    requests_total: int = 0
    finished_total: int = 0
    aborted_total: int = 0
    prompt_tokens_total: int = 0
    generation_tokens_total: int = 0
    cached_tokens_total: int = 0
    prefill_batches_total: int = 0
    decode_steps_total: int = 0
