"""What a ``%%sgl`` cell shows: its answer's events fed into a live :class:`StreamView` (or, not
streaming, counted and shown once at the end), then one result card per sample."""

from __future__ import annotations

import time

from sgl_notebook.client import StreamEvent
from sgl_notebook.display.result import SglResult
from sgl_notebook.display.stream_state import StreamProgress
from sgl_notebook.display.stream_view import ResultGroup, StreamView
from sgl_notebook.magics.specs import CellSpec

__all__ = ["CellView"]


class CellView:
    """The progress of one cell's answer and its view; :meth:`apply` takes each event."""

    def __init__(
        self, spec: CellSpec, stream: bool, max_updates_per_s: float, view_mode: str | None
    ) -> None:
        self.stream = stream
        self.progress = StreamProgress(n=spec.n, started_at=time.perf_counter(), streamed=stream)
        self.view = StreamView(
            self.progress,
            show_logprobs=spec.logprobs,
            max_updates_per_s=max_updates_per_s,
            mode=view_mode,
        )
        self.started = False  # shown once something arrives: no empty stub above an error

    def apply(self, event: StreamEvent) -> None:
        if self.stream and not self.started:
            self.started = True
            self.view.start()
        progress = self.progress
        if event.usage is not None:
            progress.usage = event.usage
        if event.sample_usage is not None:
            progress.set_sample_usage(event.sample, event.sample_usage)
        if event.text or event.logprobs:
            if self.stream:
                self.view.feed(event.sample, event.text, event.logprobs)
            else:
                progress.feed(event.sample, event.text, time.perf_counter(), event.logprobs)
        if event.finish_reason is not None:
            progress.finish(event.sample, event.finish_reason)

    def discard(self) -> None:
        """The request failed: take the live view away (the error says why)."""
        self.view.discard()

    def results(
        self, interrupted: bool, rid: str, server: str | None, model: str | None
    ) -> list[SglResult]:
        if interrupted:
            self.progress.abort_unfinished()
        return self.progress.results(interrupted=interrupted, rid=rid, server=server, model=model)

    def show(self, results: list[SglResult]) -> None:
        """The final cards: in place of the live view, or displayed once (not streamed)."""
        if self.stream and self.started:
            self.view.close(results)
        else:
            from IPython.display import display

            display(ResultGroup(results))  # type: ignore[no-untyped-call]
