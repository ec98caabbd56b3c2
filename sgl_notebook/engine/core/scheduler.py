"""The CPU engine's scheduler: one engine thread doing continuous batching on a transformers model.

Loop: take new requests and aborts from the inbox; if requests are waiting, prefill all that fit
in one batch (``Prefill batch.`` line) and merge them into the running batch; otherwise run one
decode step for every running request. Every step that changes a request calls its callback
with a cumulative :class:`~.types.RequestOutput` (on the engine thread: callbacks must not block).

>>> sched = Scheduler(load_model("smollm2"), log=print)          # doctest: +SKIP
>>> request = GenerationRequest("r1", ids, SamplingParams(max_new_tokens=8))  # doctest: +SKIP
>>> sched.submit(request, on_output)                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from sgl_notebook.protocol.sglang_format import format_decode_batch, format_prefill_batch
from .admission import GrammarQueue, new_request_state
from ..runners.transformers.batch import RunningBatch
from .grammar_xgrammar import GrammarBackend, InvalidGrammarError, grammar_key
from ..runners.transformers.model import LoadedModel
from ..runners.transformers.prefill import PrefillResult, run_prefill
from .prefix_cache import PrefixCache
from .request_state import ABORT_BEFORE_PREFILL, RequestState, abort_reason, bad_request
from .step_sampling import sample_rows
from .types import GenerationRequest, OutputCallback, RequestOutput, SchedulerSnapshot

logger = logging.getLogger("sgl_notebook.engine")


@dataclass
class SchedulerConfig:
    """Limits and logging of the scheduler (SGLang's server-argument names)."""

    max_running_requests: int = 16
    max_total_num_tokens: int = 32768
    decode_log_interval: int = 40
    prefix_cache_tokens: int = 4096  # 0 disables the prefix cache
    enable_grammar: bool = True


class Scheduler:
    """The model's engine thread; ``submit``, ``abort``, ``flush_cache`` are thread-safe."""

    def __init__(
        self,
        loaded: LoadedModel,
        config: SchedulerConfig | None = None,
        log: Callable[[str], None] | None = None,
        start: bool = True,
    ) -> None:
        self.loaded = loaded
        self.config = config or SchedulerConfig()
        self.log = log or logger.info
        self.prefix_cache = PrefixCache(self.config.prefix_cache_tokens)
        self.grammar = (
            GrammarBackend(loaded.tokenizer, loaded.vocab_size, start=False)
            if self.config.enable_grammar
            else None
        )
        self.batch = RunningBatch(loaded.config)
        self.waiting: deque[RequestState] = deque()
        self._inbox: list[tuple[GenerationRequest, OutputCallback]] = []
        self._aborts: list[str] = []
        self._cv = threading.Condition()
        self._stopping = False
        self._pending = 0  # submitted and not yet finished
        self._in_prefill: list[RequestState] = []  # taken from the queue, not yet running
        self._grammar_queue = GrammarQueue()  # requests whose grammar is compiling
        self._stats = SchedulerSnapshot(
            max_total_num_tokens=self.config.max_total_num_tokens,
            max_running_requests=self.config.max_running_requests,
        )
        self._decode_tokens_since_log = 0
        self._last_decode_log = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="sgl-engine", daemon=True)
        if start:
            self._thread.start()

    # ---- thread-safe API -------------------------------------------------------------------

    def submit(self, req: GenerationRequest, callback: OutputCallback) -> None:
        """Queue a request; ``callback`` gets a RequestOutput after every step that changed it."""
        with self._cv:
            if self._stopping:
                raise RuntimeError("The scheduler has been shut down.")
            self._inbox.append((req, callback))
            self._pending += 1
            self._stats.requests_total += 1
            self._cv.notify()

    def abort(self, rid_prefix: str) -> None:
        """Abort every request whose rid starts with ``rid_prefix`` (``""``: all), as SGLang."""
        with self._cv:
            self._aborts.append(rid_prefix)
            self._cv.notify()

    def flush_cache(self) -> bool:
        """Empty the prefix cache; False (and nothing flushed) while requests are pending."""
        with self._cv:
            if self._pending:
                return False
            self.prefix_cache.flush()
            return True

    def snapshot(self) -> SchedulerSnapshot:
        """Current load and counters (a copy)."""
        with self._cv:
            s = SchedulerSnapshot(**vars(self._stats))
            # Read live: a callback may ask right after its request finished, before the
            # engine thread drops the row (lists are copied first; CPython makes that atomic).
            live = [r for r in list(self.batch.rows) if not r.finished]
            s.running = len(live)
            s.queued = len(self.waiting) + len(self._inbox) + len(self._grammar_queue)
            s.used_tokens = sum(r.kv_tokens for r in live)
            s.token_usage = s.used_tokens / self.config.max_total_num_tokens
            s.prefix_cache_tokens = self.prefix_cache.cached_tokens
            return s

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the engine thread; pending requests are aborted."""
        with self._cv:
            self._stopping = True
            self._cv.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # ---- engine thread ---------------------------------------------------------------------

    def _loop(self) -> None:
        torch.set_grad_enabled(False)
        while True:
            with self._cv:
                while not (
                    self._stopping
                    or self._inbox
                    or self._aborts
                    or self.waiting
                    or self.batch.rows
                    or self._grammar_queue.any_done()
                ):
                    if self.grammar is not None and self._stats.finished_total:
                        # Idle after serving (the warm-up): now build the grammar compiler,
                        # off the startup path.
                        self.grammar.start()
                    self._cv.wait()
                if self._stopping:
                    break
                inbox, self._inbox = self._inbox, []
                aborts, self._aborts = self._aborts, []
            for req, callback in inbox:
                self._accept_safely(req, callback)
            self._collect_compiled_grammars()
            for prefix in aborts:
                self._abort_matching(prefix)
            try:
                with torch.inference_mode():
                    prefilled = bool(self.waiting) and self._prefill_step()
                    if not prefilled and self.batch.rows:
                        self._decode_step()
            except Exception as exc:  # noqa: BLE001 -- the engine must keep serving
                self._on_exception(exc)
            self._update_stats()
        self._abort_everything(abort_reason("The server is shutting down."))
        if self.grammar is not None:
            self.grammar.shutdown()

    def _emit(self, state: RequestState) -> None:
        try:
            state.callback(state.output())
        except Exception:  # noqa: BLE001 -- a broken callback must not stop the engine
            logger.exception("Output callback of request %s failed", state.rid)
        if state.finished:
            with self._cv:
                self._pending -= 1
                self._stats.finished_total += 1
                if state.finish_reason and state.finish_reason.get("type") == "abort":
                    self._stats.aborted_total += 1
                self._stats.generation_tokens_total += len(state.output_ids)

    def _accept_safely(self, req: GenerationRequest, callback: OutputCallback) -> None:
        try:
            self._accept(req, callback)
        except Exception as exc:  # noqa: BLE001 -- one odd request must not stop the engine
            self.log(f"Scheduler hit an exception: {traceback.format_exc()}")
            state = RequestState(req, callback, self.loaded.tokenizer, set(), 0, 0)
            # Set directly: decoding this request's ids may be what failed.
            state.finish_reason = abort_reason(
                f"{type(exc).__name__}: {exc}", 500, "InternalServerError"
            )
            self._emit(state)

    def _accept(self, req: GenerationRequest, callback: OutputCallback) -> None:
        """Check a new request as SGLang's ``handle_generate_request`` does; queue or end it."""
        state, error = new_request_state(self.loaded, req, callback)
        with self._cv:
            self._stats.prompt_tokens_total += len(req.input_ids)
        key = grammar_key(req.sampling) if error is None else None
        if key is not None and self.grammar is None:
            error = "Grammar-constrained decoding is disabled on this server."
        elif key is not None and self.grammar is not None:
            if not self.grammar.is_cached(key):
                # Compile off the engine thread (SGLang's grammar queue): others keep going.
                future = self.grammar.matcher_async(key)
                future.add_done_callback(lambda _: self._wake())
                self._grammar_queue.add(state, future)
                return
            try:
                state.matcher = self.grammar.matcher(key)
            except InvalidGrammarError as exc:
                error = str(exc)
        if error is not None:
            logger.error("%s, req.rid=%r", error, req.rid)
            state.finish(bad_request(error))
            self._emit(state)
            return
        self.waiting.append(state)

    def _wake(self) -> None:
        with self._cv:
            self._cv.notify()

    def _collect_compiled_grammars(self) -> None:
        """Queue requests whose grammar compiled; end those whose grammar was invalid."""
        ready, failed = self._grammar_queue.collect()
        self.waiting.extend(ready)
        for state in failed:
            logger.error("%s, req.rid=%r", state.finish_reason, state.rid)
            self._emit(state)

    def _take_admissible(self) -> list[RequestState]:
        """Waiting requests that fit the running cap and the KV token budget, in order."""
        taken: list[RequestState] = []
        used = self.batch.used_tokens()
        while self.waiting and len(self.batch) + len(taken) < self.config.max_running_requests:
            nxt = self.waiting[0]
            need = nxt.prompt_len + min(nxt.max_new_tokens, 1)
            fits = used + need <= self.config.max_total_num_tokens
            if not fits and (taken or self.batch.rows):
                break
            taken.append(self.waiting.popleft())
            used += need
        return taken

    def _prefill_step(self) -> bool:
        """Prefill what fits of the queue; False when nothing could be admitted."""
        states = self._take_admissible()
        if not states:
            return False
        running_before = len(self.batch)
        self._in_prefill = states
        result: PrefillResult = run_prefill(self.loaded, states, self.prefix_cache, self.grammar)
        self._in_prefill = []
        self._stats.prefill_batches_total += 1
        self.log(
            format_prefill_batch(
                new_seq=len(states),
                new_token=result.new_tokens,
                cached_token=result.cached_tokens,
                token_usage=(self.batch.used_tokens() + sum(s.kv_tokens for s in states))
                / self.config.max_total_num_tokens,
                running_req=running_before,
                queue_req=len(self.waiting),
            )
        )
        total = result.new_tokens + result.cached_tokens
        with self._cv:
            self._stats.last_cache_hit_rate = result.cached_tokens / total if total else 0.0
            self._stats.cached_tokens_total += result.cached_tokens
        for state in states:
            self._emit(state)
        alive = [i for i, s in enumerate(states) if not s.finished]
        if alive:
            index = torch.tensor(alive, dtype=torch.long)
            kv = [(k[index], v[index]) for k, v in result.kv]
            self.batch.add(
                [states[i] for i in alive],
                kv,
                result.mask[index],
                [states[i].output_ids[-1] for i in alive],
            )
        return True

    def _decode_step(self) -> None:
        self.batch.drop_finished()
        if not self.batch.rows:
            return
        out = self.loaded.model(**self.batch.forward_inputs(), use_cache=True)
        self.batch.cache = out.past_key_values
        logits = out.logits[:, -1, :].float()  # [B, V]
        rows = self.batch.rows
        next_tokens = sample_rows(rows, logits, self.grammar)
        for state, token in zip(rows, next_tokens, strict=True):
            state.append_token(token)
            self._emit(state)
        self.batch.advance(next_tokens)
        step_rows, step_used = len(rows), self.batch.used_tokens()
        self.batch.drop_finished()
        self._decode_tokens_since_log += len(rows)
        self._stats.decode_steps_total += 1
        interval = self.config.decode_log_interval
        if interval > 0 and self._stats.decode_steps_total % interval == 0:
            now = time.perf_counter()
            throughput = self._decode_tokens_since_log / max(now - self._last_decode_log, 1e-9)
            self._last_decode_log, self._decode_tokens_since_log = now, 0
            with self._cv:
                self._stats.last_gen_throughput = throughput
            self.log(
                format_decode_batch(
                    running_req=step_rows,
                    num_token=step_used,
                    token_usage=step_used / self.config.max_total_num_tokens,
                    gen_throughput=throughput,
                    queue_req=len(self.waiting),
                )
            )

    def _abort_matching(self, prefix: str) -> None:
        for state in self._grammar_queue.abort(prefix):
            self._emit(state)
        for state in [s for s in self.waiting if s.rid.startswith(prefix)]:
            self.waiting.remove(state)
            self._emit_abort_before_prefill(state)
        for state in self.batch.rows:
            if not state.finished and state.rid.startswith(prefix):
                state.finish(abort_reason())
                self._emit(state)
        self.batch.drop_finished()

    def _emit_abort_before_prefill(self, state: RequestState) -> None:
        output = RequestOutput(
            rid=state.rid,
            text="",
            output_ids=[],
            finished=True,
            finish_reason=dict(ABORT_BEFORE_PREFILL),
            prompt_tokens=0,
            completion_tokens=0,
            cached_tokens=0,
        )
        state.finish_reason = output.finish_reason
        try:
            state.callback(output)
        except Exception:  # noqa: BLE001
            logger.exception("Output callback of request %s failed", state.rid)
        with self._cv:
            self._pending -= 1
            self._stats.finished_total += 1
            self._stats.aborted_total += 1

    def _on_exception(self, exc: BaseException) -> None:
        self.log(f"Scheduler hit an exception: {traceback.format_exc()}")
        reason = abort_reason(
            f"The engine hit an exception and aborted this request: {type(exc).__name__}: {exc}",
            500,
            "InternalServerError",
        )
        for state in self.batch.rows:
            if not state.finished:
                state.finish(reason)
                self._emit(state)
        self.batch.clear()
        # Requests taken for a failed prefill are neither waiting nor running: end them too.
        for state in self._in_prefill:
            if not state.finished:
                state.finish(reason)
                self._emit(state)
        self._in_prefill = []

    def _abort_everything(self, reason: dict[str, Any]) -> None:
        for state in self._grammar_queue.abort("", reason):
            self._emit(state)
        while self.waiting:
            self._emit_abort_before_prefill(self.waiting.popleft())
        for state in self.batch.rows:
            if not state.finished:
                state.finish(reason)
                self._emit(state)
        self.batch.clear()
        with self._cv:
            inbox, self._inbox = self._inbox, []
        for req, callback in inbox:
            state = RequestState(req, callback, self.loaded.tokenizer, set(), 0, 0)
            self._emit_abort_before_prefill(state)

    def _update_stats(self) -> None:
        used = self.batch.used_tokens()
        with self._cv:
            self._stats.running = len(self.batch)
            self._stats.queued = len(self.waiting) + len(self._inbox) + len(self._grammar_queue)
            self._stats.used_tokens = used
            self._stats.token_usage = used / self.config.max_total_num_tokens
