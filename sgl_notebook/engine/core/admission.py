"""What happens to a request before it may run: SGLang's checks, and the grammar queue.

``new_request_state`` turns a submitted request into a :class:`RequestState` and says, with
SGLang 0.4.10's message, why it cannot run (empty, out-of-vocabulary ids, too long, a
``logprob_start_len`` past the prompt). Requests whose grammar is not compiled yet wait in a
:class:`GrammarQueue` while the grammar thread compiles it, as in SGLang's grammar queue.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from .grammar import InvalidGrammarError
from .request_state import RequestState, abort_reason, bad_request
from .runner import ModelInfo
from .types import GenerationRequest, OutputCallback


def new_request_state(
    info: ModelInfo, tokenizer: Any, req: GenerationRequest, callback: OutputCallback
) -> tuple[RequestState, str | None]:
    """The request's state, and the reason it must end at once (None when it may run)."""
    n = len(req.input_ids)
    sp = req.sampling
    start = req.logprob_start_len
    if start == -1 or not req.return_logprob:
        start = n - 1
    max_new = min(
        sp.max_new_tokens if sp.max_new_tokens is not None else 1 << 30,
        info.context_length - n - 1,
    )
    state = RequestState(
        req=req,
        callback=callback,
        tokenizer=tokenizer,
        eos_token_ids=set(info.eos_token_ids),
        max_new_tokens=max(max_new, 0),
        logprob_start=max(start, 0),
    )
    bad = [t for t in req.input_ids if not 0 <= t < info.vocab_size]
    if n == 0:
        return state, "The input is empty: send at least one token."
    if bad:
        return state, f"Input token id {bad[0]} is outside the vocabulary [0, {info.vocab_size})."
    if n >= info.context_length:
        return state, (
            f"The input ({n} tokens) is longer than the model's context length "
            f"({info.context_length} tokens)."
        )
    if start >= n:
        return state, (
            f"req.logprob_start_len={start} is higher than the number of input tokens "
            f"len(req.origin_input_ids)={n}. Please use a smaller logprob_start_len."
        )
    return state, None


class GrammarQueue:
    """Requests whose grammar is compiling on the grammar thread (engine thread only)."""

    def __init__(self) -> None:
        self.pending: list[tuple[RequestState, Future[Any]]] = []

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, state: RequestState, future: Future[Any]) -> None:
        self.pending.append((state, future))

    def any_done(self) -> bool:
        return any(f.done() for _, f in self.pending)

    def collect(self) -> tuple[list[RequestState], list[RequestState]]:
        """``(ready, failed)``: ready ones have their matcher; failed ones are finished."""
        ready: list[RequestState] = []
        failed: list[RequestState] = []
        still: list[tuple[RequestState, Future[Any]]] = []
        for state, future in self.pending:
            if not future.done():
                still.append((state, future))
                continue
            try:
                state.matcher = future.result()
                ready.append(state)
            except InvalidGrammarError as exc:
                state.finish(bad_request(str(exc)))
                failed.append(state)
            except Exception as exc:  # noqa: BLE001 -- xgrammar missing or broken
                state.finish(
                    abort_reason(f"{type(exc).__name__}: {exc}", 500, "InternalServerError")
                )
                failed.append(state)
        self.pending = still
        return ready, failed

    def abort(self, rid_prefix: str, reason: dict[str, Any] | None = None) -> list[RequestState]:
        """Finish matching requests (SGLang: ``Aborted by AbortReq.``, status 400)."""
        hit = [(s, f) for s, f in self.pending if s.rid.startswith(rid_prefix)]
        for state, future in hit:
            future.cancel()
            state.finish(reason or bad_request("Aborted by AbortReq."))
        self.pending = [x for x in self.pending if x not in hit]
        return [s for s, _ in hit]
