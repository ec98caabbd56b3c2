"""Where a streaming answer is shown: a live widget in a kernel, plain text in a terminal.

The widget is one ``ipywidgets.HTML`` whose value is redrawn at most ``max_updates_per_s`` times
per second however fast tokens arrive. A redraw escapes only the text (or renders only the
logprob spans) that arrived since the last one; nearly all of its kernel cost is the one comm
message itself (~0.8 ms of CPU through ipykernel's IOPub thread), which is why the rate is
capped rather than the work per token. When the stream ends the widget is replaced in place (same
display id) by a static rendering (text/plain + text/html), so saved notebooks and nbconvert keep
the answer even without widget state.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from sgl_notebook.display.html_builders import esc, kv_line, style
from sgl_notebook.display.logprobs import LEGEND_HTML
from sgl_notebook.display.result import (
    SglResult,
    logprob_spans_html,
    result_card_html,
    result_text,
)
from sgl_notebook.display.stream_state import SampleProgress, StreamProgress, UpdateThrottle

__all__ = [
    "LiveRenderer",
    "ResultGroup",
    "StreamView",
    "frontend_mode",
    "live_html",
    "sample_label",
]

_CURSOR = '<span style="opacity:0.6">▍</span>'
# built once: a redraw happens up to 20 times a second and should cost little more than its message
_TEXT_CSS = style(white_space="pre-wrap", margin=0, font_family="inherit")
_LOGPROB_CSS = "white-space:pre-wrap;line-height:1.6"  # as logprob_tokens_html
_BOX_CSS = style(
    flex="1 1 0",
    min_width="160px",
    border="1px solid rgba(127,127,127,0.3)",
    border_radius="4px",
    padding="4px 6px",
)


def sample_label(index: int) -> str:
    """What a ``--n`` sample is called everywhere (live, final, plain text): 1-based."""
    return f"sample {index + 1}"


_SAMPLE_LABELS = [
    f'<div class="sgl-sample-label" style="font-size:80%;font-weight:600;opacity:0.7">'
    f"{sample_label(i)}</div>"
    for i in range(64)
]


def frontend_mode() -> str:
    """``"widget"`` inside a Jupyter kernel, ``"text"`` in terminal IPython or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return "text"
    shell = get_ipython()
    return "widget" if shell is not None and getattr(shell, "kernel", None) is not None else "text"


def _stats_html(sample: SampleProgress) -> str:
    rate = sample.tokens_per_s()
    return kv_line(
        [
            ("tokens", sample.chunks),
            ("tok/s", None if rate is None else f"{rate:.1f}"),
            ("TTFT", None if sample.ttft is None else f"{sample.ttft * 1000:.0f} ms"),
            ("finish", sample.finish_reason),
        ]
    )


class _SampleBody:
    """A sample's rendered text, extended in place: each redraw escapes only what is new.

    Escaping is per character, so escaping the new parts and appending equals escaping the
    whole text; with ``--logprobs`` each token's span is rendered once, when it arrives.
    """

    __slots__ = ("html", "parts_done", "logprobs_done")

    def __init__(self) -> None:
        self.html: list[str] = []
        self.parts_done = 0
        self.logprobs_done = 0

    def render(self, sample: SampleProgress, show_logprobs: bool) -> str:
        if show_logprobs and sample.logprobs:
            if self.logprobs_done == 0:
                self.html.clear()
            new = sample.logprobs[self.logprobs_done :]
            if new:
                self.html.append(logprob_spans_html(new))
                self.logprobs_done = len(sample.logprobs)
            return f'<div style="{_LOGPROB_CSS}">{"".join(self.html)}</div>{LEGEND_HTML}'
        parts = sample.parts
        if len(parts) > self.parts_done:
            self.html.append(esc("".join(parts[self.parts_done :])))
            self.parts_done = len(parts)
            if len(self.html) > 64:  # keep the join cheap on long answers
                self.html[:] = ["".join(self.html)]
        cursor = _CURSOR if sample.finish_reason is None else ""
        return f'<div style="{_TEXT_CSS}">{"".join(self.html)}{cursor}</div>'


class LiveRenderer:
    """HTML for a stream in progress, built incrementally across redraws (see :func:`live_html`)."""

    def __init__(self, show_logprobs: bool = False) -> None:
        self.show_logprobs = show_logprobs
        self._bodies: list[_SampleBody] = []

    def html(self, progress: StreamProgress) -> str:
        samples = progress.samples
        while len(self._bodies) < len(samples):
            self._bodies.append(_SampleBody())
        show = self.show_logprobs
        cells = [
            body.render(s, show) + _stats_html(s)
            for body, s in zip(self._bodies, samples, strict=False)
        ]
        if len(cells) == 1:
            return f'<div class="sgl-stream">{cells[0]}</div>'
        cells = [_SAMPLE_LABELS[i] + c if i < 64 else c for i, c in enumerate(cells)]
        columns = "".join(f'<div style="{_BOX_CSS}">{c}</div>' for c in cells)
        return (
            f'<div class="sgl-stream" style="display:flex;gap:6px;flex-wrap:wrap">{columns}</div>'
        )


def live_html(
    progress: StreamProgress, show_logprobs: bool = False, now: float | None = None
) -> str:
    """HTML for a stream in progress; samples side by side when there are several."""
    return LiveRenderer(show_logprobs).html(progress)


class ResultGroup:
    """Static rendering of a finished cell's samples (side by side when several)."""

    def __init__(self, results: Sequence[SglResult]) -> None:
        self.results = list(results)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        if len(self.results) == 1:
            return self.results[0]._repr_mimebundle_()
        box = "flex:1 1 0;min-width:200px"
        columns = "".join(
            f'<div style="{box}">{result_card_html(r, sample_label(r.index))}</div>'
            for r in self.results
        )
        return {
            "text/plain": "\n\n".join(
                f"[{sample_label(r.index)}]\n{result_text(r)}" for r in self.results
            ),
            "text/html": f'<div style="display:flex;gap:8px;flex-wrap:wrap">{columns}</div>',
        }


class StreamView:
    """Shows one streaming request. Feed it with :meth:`feed`; end with :meth:`close`.

    ``pushes`` counts how many times the live view was redrawn (widget value changes or
    terminal writes), which is what the update budget limits.
    """

    def __init__(
        self,
        progress: StreamProgress,
        *,
        show_logprobs: bool = False,
        max_updates_per_s: float = 20.0,
        mode: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.progress = progress
        self.clock = clock
        self.show_logprobs = show_logprobs
        self.mode = mode or frontend_mode()
        self.throttle = UpdateThrottle(max_updates_per_s)
        self.renderer = LiveRenderer(show_logprobs)
        self.pushes = 0
        self._widget: Any = None
        self._handle: Any = None
        self._printed = 0  # characters of sample 0 already written in text mode

    def start(self) -> None:
        if self.mode != "widget":
            return
        import ipywidgets
        from IPython.display import display

        self._widget = ipywidgets.HTML(value=self.renderer.html(self.progress))
        self._handle = display(self._widget, display_id=True)  # type: ignore[no-untyped-call]

    def feed(self, index: int, text: str, logprobs: list[Any] | None = None) -> None:
        now = self.clock()
        self.progress.feed(index, text, now, logprobs)
        if self.throttle.due(now):
            self.refresh(now)

    def refresh(self, now: float | None = None) -> None:
        """Redraw now (the throttle decides when :meth:`feed` calls this)."""
        if self.mode == "widget" and self._widget is not None:
            self._widget.value = self.renderer.html(self.progress)
            self.pushes += 1
        elif self.mode == "text" and self.progress.n == 1:
            text = self.progress.samples[0].text
            if len(text) > self._printed:
                sys.stdout.write(text[self._printed :])
                sys.stdout.flush()
                self._printed = len(text)
                self.pushes += 1

    def discard(self) -> None:
        """Take the live view off the screen (the cell ends in an error instead)."""
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)
        if self._widget is not None:
            self._widget.close()
        self._widget = self._handle = None

    def close(self, results: Sequence[SglResult]) -> None:
        """Replace the live view with the static rendering of the final results."""
        group = ResultGroup(results)
        if self.mode == "widget":
            if self._handle is not None:
                self._handle.update(group)
            else:  # pragma: no cover - start() was not called
                from IPython.display import display

                display(group)  # type: ignore[no-untyped-call]
            if self._widget is not None:
                self._widget.close()
            return
        # terminal: the text already streamed; finish the line and print the figures
        if self.progress.n == 1 and results:
            self.refresh()
            stats = result_text(results[0])[len(results[0].text) :].strip()
            sys.stdout.write(("\n" if self._printed else results[0].text + "\n") + stats + "\n")
            sys.stdout.flush()
        else:
            for r in results:
                sys.stdout.write(f"[{sample_label(r.index)}]\n{result_text(r)}\n\n")
            sys.stdout.flush()
