"""The HTTP side of generation: SGLang 0.4.10's ``TokenizerManager``, over the engine thread.

:class:`GenerationManager` tokenizes and validates each sequence of a ``/generate`` body, submits
it to the scheduler (see ``types.py``), and turns the scheduler's cumulative
:class:`RequestOutput` snapshots into SGLang's ``{"text", "meta_info"}`` dicts. Scheduler
callbacks run on the engine thread and are forwarded to asyncio with ``call_soon_threadsafe``.

Errors follow SGLang: ``ValueError`` (bad value, too-long prompt, a 400 abort from the scheduler)
becomes HTTP 400 in the routes; ``TypeError`` (unknown sampling key) is left uncaught, as in
0.4.10 (HTTP 500 / dropped stream); a 503 abort is an ``HTTPException``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import HTTPException, Request

from ..core.types import GenerationRequest, OutputCallback, RequestOutput
from .generate_input import ExpandedRequest, GenerateItem, GenerateReqInput, expand_request
from .metrics_collector import EngineMetrics, RequestTimer

DISCONNECT_POLL_S = 1.0


class SchedulerLike(Protocol):
    """What the HTTP layer needs from the core's scheduler."""

    def submit(self, request: GenerationRequest, callback: OutputCallback) -> None: ...

    def abort(self, rid: str) -> None: ...


@dataclass
class RequestState:
    item: GenerateItem
    created: float
    return_text_in_logprobs: bool
    event: asyncio.Event = field(default_factory=asyncio.Event)
    out_list: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    abort_sent: bool = False  # one abort per request, however many paths ask for it
    timer: RequestTimer | None = None


def build_meta_info(
    out: RequestOutput, item: GenerateItem, created: float
) -> dict[str, Any]:
    """``meta_info`` in SGLang 0.4.10's key order (``_handle_batch_output``)."""
    meta: dict[str, Any] = {
        "id": out.rid,
        "finish_reason": out.finish_reason,
        "prompt_tokens": out.prompt_tokens,
    }
    if item.return_logprob:
        meta["input_token_logprobs"] = out.input_token_logprobs or []
        meta["output_token_logprobs"] = out.output_token_logprobs or []
        if item.top_logprobs_num > 0:
            meta["input_top_logprobs"] = out.input_top_logprobs or []
            meta["output_top_logprobs"] = out.output_top_logprobs or []
        if item.token_ids_logprob is not None:
            meta["input_token_ids_logprobs"] = out.input_token_ids_logprob or []
            meta["output_token_ids_logprobs"] = out.output_token_ids_logprob or []
    meta["completion_tokens"] = out.completion_tokens
    meta["cached_tokens"] = out.cached_tokens
    if out.finished:
        meta["e2e_latency"] = time.time() - created
    return meta


class GenerationManager:
    """Routes requests to the scheduler and their outputs back to the waiting HTTP handlers."""

    def __init__(
        self,
        scheduler: SchedulerLike,
        tokenizer: Any,
        context_len: int,
        vocab_size: int | None,
        validate: Any,
        metrics: EngineMetrics | None = None,
        preferred_sampling_params: dict[str, Any] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.tokenizer = tokenizer
        self.context_len = context_len
        self.vocab_size = vocab_size
        self._validate = validate  # sampling.validate_sampling_params
        self.metrics = metrics
        # --preferred-sampling-params: server-side defaults under each request's own params.
        self.preferred = dict(preferred_sampling_params or {})
        self.states: dict[str, RequestState] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.last_receive_time = 0.0

    # -- engine thread -> event loop --------------------------------------------------------------
    def _callback(self, out: RequestOutput) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_output, out)

    def _final_callback(self, out: RequestOutput) -> None:
        """For requests nobody watches step by step (not streamed, no metrics timer): only the
        last output wakes the event loop, which then takes no CPU from the decode threads."""
        if out.finished:
            self._callback(out)

    def _on_output(self, out: RequestOutput) -> None:
        self.last_receive_time = time.time()
        state = self.states.get(out.rid)
        if state is None:
            return
        meta = build_meta_info(out, state.item, state.created)
        payload: dict[str, Any] = {"text": out.text, "meta_info": meta}
        if out.finished:
            state.finished = True
            del self.states[out.rid]
        state.out_list.append(payload)
        state.event.set()
        if state.timer is not None:
            state.timer.observe(out.completion_tokens, out.finished, meta)

    # -- submission ------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text)["input_ids"]
        return ids

    def _validate_length(self, input_ids: list[int], max_new: Any) -> None:
        n_in = len(input_ids)
        if n_in >= self.context_len:
            raise ValueError(
                f"The input ({n_in} tokens) is longer than the "
                f"model's context length ({self.context_len} tokens)."
            )
        if isinstance(max_new, int) and max_new + n_in >= self.context_len:
            raise ValueError(
                "Requested token count exceeds the model's maximum context length "
                f"of {self.context_len} tokens. You requested a total of {max_new + n_in} "
                f"tokens: {n_in} tokens from the input messages and "
                f"{max_new} tokens for the completion. Please reduce the number "
                "of tokens in the input messages or the completion to fit within the limit."
            )

    def prepare(self, item: GenerateItem, stream: bool) -> GenerationRequest:
        """Tokenize and validate one item (SGLang's ``_tokenize_one_request``)."""
        input_ids = item.input_ids if item.input_ids is not None else self.tokenize(item.text or "")
        self._validate_length(input_ids, item.sampling_params.get("max_new_tokens"))
        # Unknown keys raise TypeError (HTTP 500, as 0.4.10); bad values ValueError (400).
        # Out-of-vocabulary ids and a too-large logprob_start_len come back from the
        # scheduler as 400 aborts, as in SGLang.
        sampling = self._validate({**self.preferred, **item.sampling_params}, self.vocab_size)
        return GenerationRequest(
            rid=item.rid,
            input_ids=list(input_ids),
            sampling=sampling,
            return_logprob=item.return_logprob,
            logprob_start_len=item.logprob_start_len,
            top_logprobs_num=item.top_logprobs_num,
            token_ids_logprob=item.token_ids_logprob,
            stream=stream,
        )

    def send(
        self, item: GenerateItem, req: GenerationRequest, text_in_logprobs: bool, log_metrics: bool
    ) -> RequestState:
        req.return_text_in_logprobs = text_in_logprobs
        state = RequestState(item, time.time(), text_in_logprobs)
        if self.metrics is not None and log_metrics:
            structured = any(
                req.sampling.__dict__.get(k) is not None for k in ("regex", "json_schema", "ebnf")
            )
            state.timer = RequestTimer(self.metrics, state.created, structured)
        self.states[item.rid] = state
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        every_step = req.stream or state.timer is not None
        self.scheduler.submit(req, self._callback if every_step else self._final_callback)
        return state

    # -- waiting ---------------------------------------------------------------------------------
    async def wait_one(
        self, state: RequestState, stream: bool, request: Request | None
    ) -> AsyncIterator[dict[str, Any]]:
        """Outputs of one request: every update when streaming, else only the final one."""
        rid = state.item.rid
        try:
            while True:
                try:
                    await asyncio.wait_for(state.event.wait(), timeout=DISCONNECT_POLL_S)
                except asyncio.TimeoutError:
                    if request is not None and await request.is_disconnected():
                        self.abort_request(rid)
                        raise ValueError(
                            "Request is disconnected from the client side (type 1). "
                            f"Abort request obj.rid='{rid}'"
                        ) from None
                    continue
                out = state.out_list[-1]
                state.out_list = []
                if state.finished:
                    reason = out["meta_info"].get("finish_reason")
                    if isinstance(reason, dict) and reason.get("type") == "abort":
                        status = reason.get("status_code")
                        if status == 400:
                            raise ValueError(reason.get("message", "Aborted"))
                        if status == 503:
                            raise HTTPException(status_code=503, detail=reason.get("message"))
                    yield out
                    return
                state.event.clear()
                if stream:
                    yield out
                elif request is not None and await request.is_disconnected():
                    self.abort_request(rid)
                    raise ValueError(
                        "Request is disconnected from the client side (type 3). "
                        f"Abort request obj.rid='{rid}'"
                    )
        finally:
            # Cancelled (client gone) or failed before the end: free the scheduler's rows.
            if rid in self.states:
                self.abort_request(rid)

    async def generate(
        self, obj: GenerateReqInput, request: Request | None = None
    ) -> AsyncIterator[Any]:
        """SGLang's ``generate_request``: yields dicts (single), a list (batch), or indexed
        dicts (batch stream)."""
        expanded = expand_request(obj)
        for prefix in expanded.prefix_items:
            # n > 1: cache the shared prompt first (max_new_tokens=0), as SGLang does.
            req = self.prepare(prefix, stream=False)
            state = self.send(prefix, req, False, log_metrics=False)
            async for _ in self.wait_one(state, False, request):
                pass
        prepared = [self.prepare(item, expanded.stream) for item in expanded.items]
        states = [
            self.send(item, req, expanded.return_text_in_logprobs, obj.log_metrics)
            for item, req in zip(expanded.items, prepared, strict=False)
        ]
        if expanded.is_single:
            async for out in self.wait_one(states[0], expanded.stream, request):
                yield out
            return
        async for out in self._gather(expanded, states, request):
            yield out

    async def _gather(
        self, expanded: ExpandedRequest, states: list[RequestState], request: Request | None
    ) -> AsyncIterator[Any]:
        gens = [self.wait_one(s, expanded.stream, request) for s in states]
        if not expanded.stream:
            try:
                outs = await asyncio.gather(*(g.__anext__() for g in gens))
            except BaseException:
                # One item failed (or the client left): end its batch mates too.
                for state in states:
                    if state.item.rid in self.states:
                        self.abort_request(state.item.rid)
                raise
            yield list(outs)
            return
        tasks: dict[asyncio.Task[Any], tuple[int, AsyncIterator[dict[str, Any]]]] = {
            asyncio.ensure_future(g.__anext__()): (i, g) for i, g in enumerate(gens)
        }
        try:
            while tasks:
                done, _ = await asyncio.wait(tasks.keys(), return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    index, gen = tasks.pop(task)
                    try:
                        result = task.result()
                    except StopAsyncIteration:
                        continue
                    result["index"] = index
                    yield result
                    tasks[asyncio.ensure_future(gen.__anext__())] = (index, gen)
        finally:
            for task in tasks:
                task.cancel()
            for state in states:
                if state.item.rid in self.states:
                    self.abort_request(state.item.rid)

    # -- aborts ----------------------------------------------------------------------------------
    def abort_request(self, rid: str = "", abort_all: bool = False) -> None:
        """SGLang's abort: a no-op for an unknown rid; otherwise every live request whose rid
        starts with ``rid`` (all of them with ``abort_all``) is aborted."""
        if not abort_all and rid not in self.states:
            return
        targets = [
            r for r, s in list(self.states.items())
            if (abort_all or r.startswith(rid)) and not s.abort_sent
        ]
        for target in targets:
            self.states[target].abort_sent = True
            self.scheduler.abort(target)
            if self.metrics is not None:
                self.metrics.observe_aborted()
