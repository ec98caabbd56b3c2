"""Blocking use of the scheduler from plain Python (scripts, benchmarks, tests): submit, wait.

>>> outputs = generate_blocking(scheduler, [request])   # doctest: +SKIP
>>> outputs[0].events[-1].text                          # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .types import GenerationRequest, RequestOutput


@dataclass
class CollectedOutput:
    """Every output event of one request, with arrival times (``time.perf_counter``)."""

    rid: str
    submitted_at: float
    events: list[RequestOutput] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def final(self) -> RequestOutput:
        return self.events[-1]

    @property
    def first_token_seconds(self) -> float | None:
        """Seconds from submit to the first event that carried a token."""
        for event, at in zip(self.events, self.times, strict=True):
            if event.output_ids:
                return at - self.submitted_at
        return None

    def callback(self, output: RequestOutput) -> None:
        self.events.append(output)
        self.times.append(time.perf_counter())
        if output.finished:
            self.done.set()


def submit_collecting(scheduler: Any, request: GenerationRequest) -> CollectedOutput:
    """Submit one request whose events are gathered in the returned object."""
    collected = CollectedOutput(request.rid, time.perf_counter())
    scheduler.submit(request, collected.callback)
    return collected


def wait_all(collected: list[CollectedOutput], timeout: float | None = None) -> None:
    """Wait until every request has finished; TimeoutError names the ones still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for c in collected:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not c.done.wait(remaining):
            pending = [x.rid for x in collected if not x.done.is_set()]
            raise TimeoutError(f"requests still running after {timeout} s: {pending}")


def generate_blocking(
    scheduler: Any, requests: list[GenerationRequest], timeout: float | None = None
) -> list[CollectedOutput]:
    """Submit all requests at once and wait for all of them."""
    collected = [submit_collecting(scheduler, r) for r in requests]
    wait_all(collected, timeout)
    return collected
