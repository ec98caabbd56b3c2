"""One request's life inside the scheduler: its output ids, text, logprobs and finish reason.

Finish checks follow SGLang 0.4.10's ``Req.check_finished`` order: length, grammar
termination, EOS / stop token ids (unless ``ignore_eos``), then stop strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .detokenizer import IncrementalDetokenizer, trim_stop_text
from .types import GenerationRequest, LogprobEntry, OutputCallback, RequestOutput, SamplingParams

ABORT_BEFORE_PREFILL = {"type": "abort", "message": "Abort before prefill"}


def abort_reason(
    message: str | None = None, status_code: int | None = None, err_type: str | None = None
) -> dict[str, Any]:
    """SGLang's ``FINISH_ABORT.to_json()``."""
    return {
        "type": "abort",
        "message": message or "Aborted",
        "status_code": status_code,
        "err_type": err_type,
    }


def bad_request(message: str) -> dict[str, Any]:
    """The abort SGLang's ``set_finish_with_abort`` gives (HTTP 400)."""
    return abort_reason(message, 400, "BadRequestError")


@dataclass
class RequestState:
    """A submitted request as the engine thread tracks it."""

    req: GenerationRequest
    callback: OutputCallback
    tokenizer: Any
    eos_token_ids: set[int]
    max_new_tokens: int
    logprob_start: int  # first prompt position with an input logprob entry
    matcher: Any = None  # an xgrammar GrammarMatcher for constrained requests
    cached_tokens: int = 0
    output_ids: list[int] = field(default_factory=list)
    finish_reason: dict[str, Any] | None = None
    text: str = ""
    detok: IncrementalDetokenizer | None = None
    input_token_logprobs: list[LogprobEntry] | None = None
    input_top_logprobs: list[list[LogprobEntry] | None] | None = None
    input_token_ids_logprob: list[list[LogprobEntry] | None] | None = None
    output_token_logprobs: list[LogprobEntry] | None = None
    output_top_logprobs: list[list[LogprobEntry] | None] | None = None
    output_token_ids_logprob: list[list[LogprobEntry] | None] | None = None

    def __post_init__(self) -> None:
        sp = self.sampling
        self.detok = IncrementalDetokenizer(
            self.tokenizer,
            self.req.input_ids,
            skip_special_tokens=sp.skip_special_tokens,
            spaces_between_special_tokens=sp.spaces_between_special_tokens,
        )
        if self.req.return_logprob:
            self.input_token_logprobs = []
            self.output_token_logprobs = []
            if self.req.top_logprobs_num > 0:
                self.input_top_logprobs, self.output_top_logprobs = [], []
            if self.req.token_ids_logprob is not None:
                self.input_token_ids_logprob, self.output_token_ids_logprob = [], []

    @property
    def sampling(self) -> SamplingParams:
        return self.req.sampling

    @property
    def rid(self) -> str:
        return self.req.rid

    @property
    def prompt_len(self) -> int:
        return len(self.req.input_ids)

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    @property
    def kv_tokens(self) -> int:
        """KV slots this request holds (prompt plus generated tokens)."""
        return self.prompt_len + len(self.output_ids)

    def stop_ids_before_min(self) -> list[int]:
        """Tokens forbidden until ``min_new_tokens`` is reached (SGLang's penalizer)."""
        if len(self.output_ids) >= self.sampling.min_new_tokens:
            return []
        return sorted(self.eos_token_ids | set(self.sampling.stop_token_ids))

    def triple(self, logprob: float | None, token_id: int) -> LogprobEntry:
        text = self.tokenizer.decode([token_id]) if self.req.return_text_in_logprobs else None
        return [logprob, token_id, text]

    def triples(self, pairs: list[tuple[float, int]]) -> list[LogprobEntry]:
        return [self.triple(lp, tid) for lp, tid in pairs]

    def append_token(self, token_id: int) -> None:
        """Record one generated token and decide whether the request is done."""
        self.output_ids.append(token_id)
        assert self.detok is not None
        self.detok.add([token_id])
        if self.matcher is not None and not self.matcher.is_terminated():
            self.matcher.accept_token(token_id)
        self._check_finished()
        self._update_text()

    def _grammar_done(self) -> bool:
        return self.matcher is not None and bool(self.matcher.is_terminated())

    def _stop_token(self, token: int) -> bool:
        sp = self.sampling
        return not sp.ignore_eos and (token in sp.stop_token_ids or token in self.eos_token_ids)

    def _check_finished(self) -> None:
        sp = self.sampling
        last = self.output_ids[-1]
        if len(self.output_ids) >= self.max_new_tokens:
            self.finish_reason = {"type": "length", "length": self.max_new_tokens}
        elif self._grammar_done() or self._stop_token(last):
            self.finish_reason = {"type": "stop", "matched": last}
        elif sp.stop:
            assert self.detok is not None
            text = self.detok.full_text()
            for stop in sp.stop:
                if stop and stop in text:
                    self.finish_reason = {"type": "stop", "matched": stop}
                    break

    def _update_text(self) -> None:
        assert self.detok is not None
        if not self.finished:
            self.text = self.detok.text(finished=False)
            return
        no_trim = self.sampling.no_stop_trim
        matched = (self.finish_reason or {}).get("matched")
        drop_last = isinstance(matched, int) and not isinstance(matched, bool) and not no_trim
        text = self.detok.text(finished=True, drop_last_token=drop_last)
        self.text = trim_stop_text(text, self.finish_reason, no_trim)

    def finish(self, reason: dict[str, Any]) -> None:
        """End the request now (length 0, abort) with the text generated so far."""
        self.finish_reason = reason
        self._update_text()

    def output(self) -> RequestOutput:
        """A cumulative snapshot for the callback (lists copied: the engine keeps growing them)."""

        def copy(values: list[Any] | None) -> list[Any] | None:
            return list(values) if values is not None else None

        return RequestOutput(
            rid=self.rid,
            text=self.text,
            output_ids=list(self.output_ids),
            finished=self.finished,
            finish_reason=self.finish_reason,
            prompt_tokens=self.prompt_len,
            completion_tokens=len(self.output_ids),
            cached_tokens=self.cached_tokens,
            input_token_logprobs=copy(self.input_token_logprobs),
            output_token_logprobs=copy(self.output_token_logprobs),
            input_top_logprobs=copy(self.input_top_logprobs),
            output_top_logprobs=copy(self.output_top_logprobs),
            input_token_ids_logprob=copy(self.input_token_ids_logprob),
            output_token_ids_logprob=copy(self.output_token_ids_logprob),
        )
