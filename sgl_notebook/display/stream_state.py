"""Pure bookkeeping for a streaming answer: text so far, timings, and an update throttle.

>>> p = StreamProgress(n=1, started_at=0.0)
>>> p.feed(0, "Hel", now=0.5); p.feed(0, "lo", now=1.0)
>>> s = p.samples[0]; (s.text, s.chunks, s.ttft)
('Hello', 2, 0.5)
>>> t = UpdateThrottle(max_per_s=20); [t.due(x) for x in (0.0, 0.01, 0.06)]
[True, False, True]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sgl_notebook.display.result import SglResult, TokenLogprob

__all__ = ["SampleProgress", "StreamProgress", "UpdateThrottle"]


class UpdateThrottle:
    """Lets an update through at most ``max_per_s`` times per second (coalescing the rest)."""

    def __init__(self, max_per_s: float = 20.0) -> None:
        self.interval = 1.0 / max_per_s if max_per_s > 0 else 0.0
        self._last = -math.inf

    def due(self, now: float) -> bool:
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


@dataclass
class SampleProgress:
    """One sample's stream so far."""

    index: int
    started_at: float
    parts: list[str] = field(default_factory=list)
    chunks: int = 0
    first_at: float | None = None
    last_at: float | None = None
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] = field(default_factory=list)
    usage: dict[str, Any] | None = None  # this sample's own counts, when the server sends them

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def ttft(self) -> float | None:
        return None if self.first_at is None else self.first_at - self.started_at

    def tokens_per_s(self, tokens: int | None = None) -> float | None:
        """Decode rate after the first token (the first token's wait is TTFT, not decode)."""
        count = tokens if tokens is not None else self.chunks
        if self.first_at is None or self.last_at is None or count < 2:
            return None
        span = self.last_at - self.first_at
        return (count - 1) / span if span > 0 else None


@dataclass
class StreamProgress:
    """All samples of one request; fed chunk by chunk, turned into :class:`SglResult` at the end."""

    n: int
    started_at: float
    streamed: bool = True
    samples: list[SampleProgress] = field(init=False)
    usage: dict[str, Any] | None = None  # the whole request's counts

    def __post_init__(self) -> None:
        self.samples = [SampleProgress(i, self.started_at) for i in range(self.n)]

    def _sample(self, index: int) -> SampleProgress:
        while index >= len(self.samples):  # servers may send more choices than asked
            self.samples.append(SampleProgress(len(self.samples), self.started_at))
        return self.samples[index]

    def feed(
        self, index: int, text: str, now: float, logprobs: list[TokenLogprob] | None = None
    ) -> None:
        if not text and not logprobs:
            return
        sample = self._sample(index)
        if sample.first_at is None:
            sample.first_at = now
        sample.last_at = now
        sample.parts.append(text)
        sample.chunks += 1
        if logprobs:
            sample.logprobs.extend(logprobs)

    def set_sample_usage(self, index: int, usage: dict[str, Any]) -> None:
        self._sample(index).usage = usage

    def finish(self, index: int, reason: str | None) -> None:
        if reason is not None:
            self._sample(index).finish_reason = reason

    def abort_unfinished(self) -> None:
        """After an interrupt: samples the server did not finish end with SGLang's "abort"."""
        for sample in self.samples:
            if sample.finish_reason is None:
                sample.finish_reason = "abort"

    def _usage_of(self, sample: SampleProgress) -> dict[str, Any]:
        if sample.usage is not None:
            return dict(sample.usage)
        if self.usage is None:  # no usage from the server: count what streamed
            return {"completion_tokens": sample.chunks if self.streamed else None}
        usage = dict(self.usage)
        if self.n > 1:
            # OpenAI usage is for all samples together; per sample, only a stream can count.
            # SGLang counts the shared prompt once but sums every sample's cache hits, so the
            # request's cached_tokens can exceed its prompt_tokens: per sample it is unknown.
            usage["completion_tokens"] = sample.chunks if self.streamed else None
            usage["cached_tokens"] = None
            usage["total_tokens"] = None
        return usage

    def results(self, interrupted: bool = False, **common: Any) -> list[SglResult]:
        """One result per sample, with its usage (per sample where the server says so)."""
        out = []
        for sample in self.samples:
            usage = self._usage_of(sample)
            tokens = usage.get("completion_tokens")
            out.append(
                SglResult(
                    text=sample.text,
                    finish_reason=sample.finish_reason,
                    usage=usage,
                    # without streaming the first token arrives with the last: no TTFT to tell
                    ttft=sample.ttft if self.streamed else None,
                    tokens_per_s=sample.tokens_per_s(tokens) if self.streamed else None,
                    logprobs=sample.logprobs or None,
                    index=sample.index,
                    interrupted=interrupted,
                    elapsed=(sample.last_at - self.started_at) if sample.last_at else None,
                    meta={"request_usage": self.usage} if self.n > 1 and self.usage else {},
                    **common,
                )
            )
        return out
