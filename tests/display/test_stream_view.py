"""The stream bookkeeping and view: coalesced redraws, final static copy, terminal fallback."""

from __future__ import annotations

import itertools

from sgl_notebook.display.stream_state import StreamProgress, UpdateThrottle
from sgl_notebook.display.stream_view import ResultGroup, StreamView, live_html


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_throttle_coalesces_to_the_rate():
    throttle = UpdateThrottle(max_per_s=20)
    times = [i / 1000 for i in range(2000)]  # 2000 events over 2 s
    assert sum(throttle.due(t) for t in times) <= 41


def test_widget_view_redraws_at_most_20_per_second_at_any_token_rate():
    progress = StreamProgress(n=1, started_at=0.0)
    clock = FakeClock(step=0.0005)  # 2000 tokens/s
    view = StreamView(progress, max_updates_per_s=20, mode="widget", clock=clock)
    view.start()
    values = []
    view._widget.observe(lambda change: values.append(change["new"]), names="value")
    for i in range(4000):  # 2 seconds of tokens
        view.feed(0, f"t{i} ")
    assert 20 <= view.pushes <= 41
    assert len(values) == view.pushes
    results = progress.results()
    view.close(results)
    assert results[0].text == "".join(f"t{i} " for i in range(4000))
    assert results[0].usage == {"completion_tokens": 4000}


def test_live_html_escapes_and_shows_stats_side_by_side():
    progress = StreamProgress(n=2, started_at=0.0)
    progress.feed(0, "<b>a", now=0.1)
    progress.feed(0, "b", now=0.2)
    progress.feed(1, "x", now=0.3)
    progress.finish(1, "stop")
    html = live_html(progress)
    assert "&lt;b&gt;a" in html and "display:flex" in html
    assert "tokens: <b>2</b>" in html and "finish: <b>stop</b>" in html
    assert "TTFT: <b>100 ms</b>" in html


def test_text_mode_prints_the_stream_then_the_figures(capsys):
    progress = StreamProgress(n=1, started_at=0.0)
    ticks = itertools.count()
    view = StreamView(progress, mode="text", clock=lambda: next(ticks) * 1.0)
    view.start()
    for word in ("Hello", ", ", "world"):
        view.feed(0, word)
    progress.finish(0, "stop")
    view.close(progress.results())
    out = capsys.readouterr().out
    assert out.startswith("Hello, world\n")
    assert "finish: stop" in out


def test_result_group_puts_samples_side_by_side():
    progress = StreamProgress(n=2, started_at=0.0)
    progress.feed(0, "a", 0.1)
    progress.feed(1, "b", 0.1)
    bundle = ResultGroup(progress.results())._repr_mimebundle_()
    # one way of naming samples everywhere: 1-based, "answer" is never one of them
    assert "[sample 1]" in bundle["text/plain"] and "[sample 2]" in bundle["text/plain"]
    assert "[sample 0]" not in bundle["text/plain"]
    assert bundle["text/html"].count('class="sgl-card"') == 2
    assert ">sample 1" in bundle["text/html"] and ">sample 2" in bundle["text/html"]
    assert ">answer" not in bundle["text/html"]


def test_usage_per_sample_when_known_else_counted_or_unknown():
    streamed = StreamProgress(n=2, started_at=0.0)
    streamed.feed(0, "a", 0.1)
    streamed.feed(0, "b", 0.2)
    streamed.feed(1, "c", 0.1)
    streamed.usage = {"prompt_tokens": 5, "completion_tokens": 3}
    assert [r.usage["completion_tokens"] for r in streamed.results()] == [2, 1]
    whole = StreamProgress(n=2, started_at=0.0, streamed=False)
    whole.feed(0, "ab", 0.1)
    whole.feed(1, "c", 0.1)
    whole.usage = {"prompt_tokens": 5, "completion_tokens": 3}
    assert [r.usage["completion_tokens"] for r in whole.results()] == [None, None]
    whole.set_sample_usage(1, {"completion_tokens": 1})
    assert whole.results()[1].usage == {"completion_tokens": 1}
    assert whole.results()[0].tokens_per_s is None


def test_incremental_redraws_equal_a_fresh_rendering_at_every_step():
    from sgl_notebook.display.result import TokenLogprob
    from sgl_notebook.display.stream_view import LiveRenderer

    for show_logprobs in (False, True):
        progress = StreamProgress(n=2, started_at=0.0)
        renderer = LiveRenderer(show_logprobs)
        pieces = ["<a", " & ", '"q"', "'s", ">\n", "é", "", "end"]
        for step, piece in enumerate(pieces * 20):
            sample = step % 2
            lps = [TokenLogprob(piece, -0.1 * (step % 7), (("x<", -1.0),))] if piece else None
            progress.feed(sample, piece, now=0.01 * (step + 1), logprobs=lps)
            if step == 150:
                progress.finish(1, "length")
            if step % 3 == 0:  # redraws skip some chunks, as the throttle does
                assert renderer.html(progress) == live_html(progress, show_logprobs)
        progress.finish(0, "stop")
        assert renderer.html(progress) == live_html(progress, show_logprobs)
        final = live_html(progress)
        for escaped in ("&lt;a", " &amp; ", "&quot;q&quot;", "&#x27;s", "&gt;\n"):
            assert escaped in final


def test_logprob_colouring_live_matches_the_finished_card():
    from sgl_notebook.display.result import TokenLogprob, logprob_tokens_html

    progress = StreamProgress(n=1, started_at=0.0)
    tokens = [TokenLogprob(t, -0.2, (("b", -2.0),)) for t in ("a<", "b", " c")]
    view = StreamView(progress, show_logprobs=True, mode="widget", clock=FakeClock(1.0))
    view.start()
    for t in tokens:
        view.feed(0, t.token, [t])
    assert logprob_tokens_html(tokens) in view._widget.value
