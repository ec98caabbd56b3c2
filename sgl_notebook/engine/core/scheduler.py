"""The CPU engine's scheduler: one engine thread doing continuous batching over a model runner.

Loop: take new requests and aborts from the inbox; if requests are waiting, prefill all that fit
in one batch (``Prefill batch.`` line) and merge them into the running batch; otherwise run one
decode step for every running request. Every step that changes a request calls its callback
with a cumulative :class:`~.types.RequestOutput` (on the engine thread: callbacks must not block).

The runner (``core/runner.py``: llama.cpp or transformers) computes logits and owns the KV; the
scheduler admits, samples (numpy), applies grammars, records logprobs and decides when a request
ends. Each logged step is one typed record (``step_stats.py``) rendered as SGLang's log line.

>>> sched = Scheduler(load_runner("smollm2"), log=print)                # doctest: +SKIP
>>> request = GenerationRequest("r1", ids, SamplingParams(max_new_tokens=8))  # doctest: +SKIP
>>> sched.submit(request, on_output)                                   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .admission import GrammarQueue, new_request_state
from .early_ends import EarlyEnds
from .grammar import InvalidGrammarError, grammar_key
from .input_logprobs import record_input_logprobs
from .request_state import RequestState, abort_reason, bad_request
from .runner import ModelRunner
from .step_sampling import sample_rows
from .step_stats import DecodeStats, PrefillStats, StepStats
from .types import GenerationRequest, OutputCallback, SchedulerSnapshot

logger = logging.getLogger("sgl_notebook.engine")


@dataclass
class SchedulerConfig:
    """Limits and logging of the scheduler (SGLang's server-argument names)."""

    max_running_requests: int = 16
    max_total_num_tokens: int = 32768
    decode_log_interval: int = 40
    enable_grammar: bool = True


class Scheduler(EarlyEnds):
    """The model's engine thread; ``submit``, ``abort``, ``flush_cache`` are thread-safe."""

    def __init__(
        self,
        runner: ModelRunner,
        config: SchedulerConfig | None = None,
        log: Callable[[str], None] | None = None,
        start: bool = True,
        on_step: Callable[[StepStats], None] | None = None,
        grammar: Any = None,
    ) -> None:
        self.runner = runner
        self.info = runner.info
        self.tokenizer = runner.tokenizer
        config = config or SchedulerConfig()
        # A runner with a fixed KV pool and sequence ids (llama.cpp) bounds admission.
        self.config = dataclasses.replace(
            config,
            max_total_num_tokens=min(
                config.max_total_num_tokens,
                getattr(runner, "max_total_tokens", None) or config.max_total_num_tokens,
            ),
            max_running_requests=min(
                config.max_running_requests,
                getattr(runner, "max_running", None) or config.max_running_requests,
            ),
        )
        self.log = log or logger.info
        self.on_step = on_step
        # The runner's grammar backend outlives this scheduler; one passed in is ours to stop.
        self._owns_grammar = grammar is not None
        if grammar is None and self.config.enable_grammar:
            grammar = runner.grammar_backend()
        self.grammar = grammar
        self.running: list[RequestState] = []
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
            self.runner.flush_cache()
            return True

    def snapshot(self) -> SchedulerSnapshot:
        """Current load and counters (a copy)."""
        with self._cv:
            s = SchedulerSnapshot(**vars(self._stats))
            # Read live: a callback may ask right after its request finished, before the
            # engine thread drops the row (lists are copied first; CPython makes that atomic).
            live = [r for r in list(self.running) if not r.finished]
            s.running = len(live)
            s.queued = len(self.waiting) + len(self._inbox) + len(self._grammar_queue)
            s.used_tokens = sum(r.kv_tokens for r in live)
            s.token_usage = s.used_tokens / self.config.max_total_num_tokens
            s.prefix_cache_tokens = self.runner.cached_prefix_tokens()
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
        while True:
            with self._cv:
                while not (
                    self._stopping
                    or self._inbox
                    or self._aborts
                    or self.waiting
                    or self.running
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
                prefilled = bool(self.waiting) and self._prefill_step()
                if not prefilled and self.running:
                    self._decode_step()
            except Exception as exc:  # noqa: BLE001 -- the engine must keep serving
                self._on_exception(exc)
            self._update_stats()
        self._abort_everything(abort_reason("The server is shutting down."))
        if self.grammar is not None and self._owns_grammar:
            self.grammar.shutdown()

    def _emit(self, state: RequestState) -> None:
        output = state.output()
        if state.finished:
            # Book-keeping first: whoever the callback wakes sees the request gone.
            self.runner.release(state)
            with self._cv:
                self._pending -= 1
                self._stats.finished_total += 1
                if state.finish_reason and state.finish_reason.get("type") == "abort":
                    self._stats.aborted_total += 1
                self._stats.generation_tokens_total += len(state.output_ids)
        try:
            state.callback(output)
        except Exception:  # noqa: BLE001 -- a broken callback must not stop the engine
            logger.exception("Output callback of request %s failed", state.rid)

    def _accept_safely(self, req: GenerationRequest, callback: OutputCallback) -> None:
        try:
            self._accept(req, callback)
        except Exception as exc:  # noqa: BLE001 -- one odd request must not stop the engine
            self.log(f"Scheduler hit an exception: {traceback.format_exc()}")
            state = RequestState(req, callback, self.tokenizer, set(), 0, 0)
            # Set directly: decoding this request's ids may be what failed.
            state.finish_reason = abort_reason(
                f"{type(exc).__name__}: {exc}", 500, "InternalServerError"
            )
            self._emit(state)

    def _accept(self, req: GenerationRequest, callback: OutputCallback) -> None:
        """Check a new request as SGLang's ``handle_generate_request`` does; queue or end it."""
        state, error = new_request_state(self.info, self.tokenizer, req, callback)
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
        used = self._used_tokens()
        while self.waiting and len(self.running) + len(taken) < self.config.max_running_requests:
            nxt = self.waiting[0]
            need = nxt.prompt_len + min(nxt.max_new_tokens, 1)
            fits = used + need <= self.config.max_total_num_tokens
            if not fits and (taken or self.running):
                break
            taken.append(self.waiting.popleft())
            used += need
        return taken

    def _used_tokens(self) -> int:
        return sum(r.kv_tokens for r in self.running)

    def _report(self, stats: StepStats) -> None:
        self.log(stats.message())
        if self.on_step is not None:
            self.on_step(stats)

    def _prefill_step(self) -> bool:
        """Prefill what fits of the queue; False when nothing could be admitted."""
        states = self._take_admissible()
        if not states:
            return False
        running_before = len(self.running)
        self._in_prefill = states
        result = self.runner.prefill(states)
        self._stats.prefill_batches_total += 1
        self._report(
            PrefillStats(
                new_seq=len(states),
                new_token=result.new_tokens,
                cached_token=result.cached_tokens,
                token_usage=(self._used_tokens() + sum(s.kv_tokens for s in states))
                / self.config.max_total_num_tokens,
                running_req=running_before,
                queue_req=len(self.waiting),
            )
        )
        with self._cv:
            total = result.new_tokens + result.cached_tokens
            self._stats.last_cache_hit_rate = result.cached_tokens / total if total else 0.0
            self._stats.cached_tokens_total += result.cached_tokens
        for i, state in enumerate(states):
            if state.req.return_logprob:
                record_input_logprobs(state, result.prompt_logits.get(i))
            if state.max_new_tokens <= 0:
                state.finish({"type": "length", "length": 0})
        alive = [i for i, s in enumerate(states) if not s.finished]
        if alive:
            rows = [states[i] for i in alive]
            tokens = sample_rows(rows, result.last_logits[alive], self.grammar)
            for state, token in zip(rows, tokens, strict=True):
                state.append_token(token)
        self._in_prefill = []
        for state in states:
            self._emit(state)
        self.running.extend(s for s in states if not s.finished)
        return True

    def _decode_step(self) -> None:
        rows = [r for r in self.running if not r.finished]
        self.running = rows
        if not rows:
            return
        logits = self.runner.decode(rows)  # [B, V]
        next_tokens = sample_rows(rows, logits, self.grammar)
        for state, token in zip(rows, next_tokens, strict=True):
            state.append_token(token)
        step_rows, step_used = len(rows), self._used_tokens()
        for state in rows:
            self._emit(state)
        self.running = [r for r in rows if not r.finished]
        self._decode_tokens_since_log += len(rows)
        self._stats.decode_steps_total += 1
        interval = self.config.decode_log_interval
        if interval > 0 and self._stats.decode_steps_total % interval == 0:
            now = time.perf_counter()
            throughput = self._decode_tokens_since_log / max(now - self._last_decode_log, 1e-9)
            self._last_decode_log, self._decode_tokens_since_log = now, 0
            with self._cv:
                self._stats.last_gen_throughput = throughput
            self._report(
                DecodeStats(
                    running_req=step_rows,
                    num_token=step_used,
                    token_usage=step_used / self.config.max_total_num_tokens,
                    gen_throughput=throughput,
                    queue_req=len(self.waiting),
                )
            )

    def _update_stats(self) -> None:
        used = self._used_tokens()
        with self._cv:
            self._stats.running = len(self.running)
            self._stats.queued = len(self.waiting) + len(self._inbox) + len(self._grammar_queue)
            self._stats.used_tokens = used
            self._stats.token_usage = used / self.config.max_total_num_tokens
