"""How the scheduler ends requests early: an abort by rid prefix, an abort of everything (at
shutdown), and an exception in a step. A request aborted before its prefill gets SGLang's
``ABORT_BEFORE_PREFILL`` output (no tokens); one that was running keeps what it generated."""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from .admission import GrammarQueue
from .request_state import ABORT_BEFORE_PREFILL, RequestState, abort_reason
from .types import GenerationRequest, OutputCallback, RequestOutput, SchedulerSnapshot

logger = logging.getLogger("sgl_notebook.engine")


class EarlyEnds:
    """A part of :class:`~.scheduler.Scheduler` (which sets these attributes and ``_emit``)."""

    waiting: deque[RequestState]
    running: list[RequestState]
    tokenizer: Any
    log: Callable[[str], None]
    _grammar_queue: GrammarQueue
    _in_prefill: list[RequestState]
    _inbox: list[tuple[GenerationRequest, OutputCallback]]
    _cv: threading.Condition
    _pending: int
    _stats: SchedulerSnapshot

    def _emit(self, state: RequestState) -> None:
        raise NotImplementedError

    def _abort_matching(self, prefix: str) -> None:
        for state in self._grammar_queue.abort(prefix):
            self._emit(state)
        for state in [s for s in self.waiting if s.rid.startswith(prefix)]:
            self.waiting.remove(state)
            self._emit_abort_before_prefill(state)
        for state in self.running:
            if not state.finished and state.rid.startswith(prefix):
                state.finish(abort_reason())
                self._emit(state)
        self.running = [r for r in self.running if not r.finished]

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
        with self._cv:
            self._pending -= 1
            self._stats.finished_total += 1
            self._stats.aborted_total += 1
        try:
            state.callback(output)
        except Exception:  # noqa: BLE001
            logger.exception("Output callback of request %s failed", state.rid)

    def _on_exception(self, exc: BaseException) -> None:
        self.log(f"Scheduler hit an exception: {traceback.format_exc()}")
        reason = abort_reason(
            f"The engine hit an exception and aborted this request: {type(exc).__name__}: {exc}",
            500,
            "InternalServerError",
        )
        for state in self.running:
            if not state.finished:
                state.finish(reason)
                self._emit(state)
        self.running = []
        # Requests taken for a failed prefill are neither waiting nor running and were never
        # emitted: end them too.
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
        for state in self.running:
            if not state.finished:
                state.finish(reason)
                self._emit(state)
        self.running = []
        with self._cv:
            inbox, self._inbox = self._inbox, []
        for req, callback in inbox:
            state = RequestState(req, callback, self.tokenizer, set(), 0, 0)
            self._emit_abort_before_prefill(state)
