"""The engine core on both runners (the tiny model on transformers, SmolLM2 on llama.cpp):
batching, stops, lengths, logprobs, prefix cache, abort."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sgl_notebook.engine.core.blocking import (
    CollectedOutput,
    generate_blocking,
    submit_collecting,
    wait_all,
)
from sgl_notebook.engine.core.scheduler import Scheduler, SchedulerConfig
from sgl_notebook.engine.core.types import GenerationRequest, SamplingParams
from sgl_notebook.protocol.sglang_format import format_decode_batch
from tests.engine.greedy import TWIN_OPTIONS, GreedyRun
from tests.engine.greedy import assert_same_greedy as same_greedy

TIMEOUT = 120
_rids = itertools.count()

PROMPTS = [
    "The capital city of France is",
    "Hello world, the model answers the question about the river and the mountain",
    "One two",
    "What number did the people find in the water after a long time?",
]


@pytest.fixture(scope="module")
def loaded(runner: Any) -> Any:
    return runner


@pytest.fixture(scope="module")
def engine(loaded: Any) -> Iterator[tuple[Scheduler, list[str]]]:
    lines: list[str] = []
    sched = Scheduler(loaded, SchedulerConfig(decode_log_interval=5), log=lines.append)
    yield sched, lines
    sched.shutdown()


def ids_of(loaded: Any, text: str) -> list[int]:
    return list(loaded.tokenizer.encode(text, add_special_tokens=False))


def request(ids: list[int], rid: str | None = None, **params: Any) -> GenerationRequest:
    logprob_keys = {
        "return_logprob",
        "logprob_start_len",
        "top_logprobs_num",
        "token_ids_logprob",
        "return_text_in_logprobs",
    }
    top = {k: params.pop(k) for k in list(params) if k in logprob_keys}
    params.setdefault("temperature", 0.0)
    return GenerationRequest(
        rid=rid or f"req-{next(_rids)}", input_ids=ids, sampling=SamplingParams(**params), **top
    )


def run(sched: Scheduler, *reqs: GenerationRequest) -> list[Any]:
    return [c.final for c in generate_blocking(sched, list(reqs), timeout=TIMEOUT)]


def greedy_twins() -> dict[str, Any]:
    """Request options for outputs that ``same_greedy`` can compare on any runner."""
    return {"ignore_eos": True, **TWIN_OPTIONS}


def assert_same_greedy(got: Any, want: Any, loaded: Any) -> None:
    check = GreedyRun.from_output
    same_greedy(check(got), check(want), loaded.info.runner)


def test_batched_greedy_equals_solo(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, lines = engine
    lengths = [30, 12, 25, 6]  # rows leave the batch at different steps
    prompts = [ids_of(loaded, p) for p in PROMPTS]
    twins = greedy_twins()
    solo = [
        run(sched, request(p, max_new_tokens=n, **twins))[0]
        for p, n in zip(prompts, lengths, strict=True)
    ]
    lines.clear()
    together = run(
        sched,
        *[request(p, max_new_tokens=n, **twins) for p, n in zip(prompts, lengths, strict=True)],
    )
    for got, want in zip(together, solo, strict=True):
        assert_same_greedy(got, want, loaded)
    assert [len(o.output_ids) for o in together] == lengths
    prefill_lines = [line for line in lines if line.startswith("Prefill batch.")]
    assert prefill_lines[0].startswith("Prefill batch. #new-seq: 4, ")


def test_join_running_batch_mid_run(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    a, b, c = (ids_of(loaded, p) for p in PROMPTS[1:])
    twins = greedy_twins()
    solo = [run(sched, request(p, max_new_tokens=20, **twins))[0] for p in (a, b, c)]
    started = threading.Event()
    first = CollectedOutput("first", time.perf_counter())

    def watch(output: Any) -> None:
        first.callback(output)
        if len(output.output_ids) >= 5:
            started.set()

    sched.submit(request(a, "first", max_new_tokens=20, **twins), watch)
    assert started.wait(TIMEOUT)
    assert not first.done.is_set()
    late = [submit_collecting(sched, request(p, max_new_tokens=20, **twins)) for p in (b, c)]
    wait_all([first, *late], TIMEOUT)
    for got, want in zip([first, *late], solo, strict=True):
        assert_same_greedy(got.final, want, loaded)


def test_every_step_pushes_a_cumulative_event(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    out = generate_blocking(
        sched, [request(ids_of(loaded, PROMPTS[0]), max_new_tokens=8, ignore_eos=True)]
    )[0]
    assert [len(e.output_ids) for e in out.events] == list(range(1, 9))
    assert all(not e.finished for e in out.events[:-1]) and out.final.finished
    texts = [e.text for e in out.events]
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:], strict=False))
    assert out.final.text == loaded.tokenizer.decode(out.final.output_ids, skip_special_tokens=True)
    assert out.final.finish_reason == {"type": "length", "length": 8}
    assert out.final.prompt_tokens == len(ids_of(loaded, PROMPTS[0]))
    assert out.final.completion_tokens == 8


def test_stop_string_is_trimmed_unless_no_stop_trim(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    prompt = ids_of(loaded, PROMPTS[3])
    full = run(sched, request(prompt, max_new_tokens=30, ignore_eos=True))[0].text
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    cut = full.find(stop)
    trimmed = run(sched, request(prompt, max_new_tokens=30, ignore_eos=True, stop=[stop]))[0]
    assert trimmed.finish_reason == {"type": "stop", "matched": stop}
    assert trimmed.text == full[:cut]
    kept = run(
        sched, request(prompt, max_new_tokens=30, ignore_eos=True, stop=[stop], no_stop_trim=True)
    )[0]
    assert kept.text.startswith(full[:cut] + stop)
    assert kept.finish_reason == {"type": "stop", "matched": stop}


def test_stop_token_ids_and_min_new_tokens(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    prompt = ids_of(loaded, PROMPTS[1])
    free = run(sched, request(prompt, max_new_tokens=20, ignore_eos=True))[0].output_ids
    stop_id = free[3]
    first = free.index(stop_id)
    out = run(sched, request(prompt, max_new_tokens=20, stop_token_ids=[stop_id]))[0]
    assert out.output_ids == free[: first + 1]
    assert out.finish_reason == {"type": "stop", "matched": stop_id}
    assert out.text == loaded.tokenizer.decode(free[:first], skip_special_tokens=True)
    later = run(
        sched,
        request(prompt, max_new_tokens=20, stop_token_ids=[stop_id], min_new_tokens=first + 2),
    )[0]
    assert len(later.output_ids) >= first + 2
    assert stop_id not in later.output_ids[: first + 2]
    ignored = run(
        sched, request(prompt, max_new_tokens=20, stop_token_ids=[stop_id], ignore_eos=True)
    )[0]
    assert ignored.output_ids == free and ignored.finish_reason == {"type": "length", "length": 20}


def test_max_new_tokens_zero_returns_after_prefill_with_logprobs(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    prompt = ids_of(loaded, PROMPTS[0])
    out = generate_blocking(
        sched,
        [
            request(
                prompt,
                max_new_tokens=0,
                return_logprob=True,
                logprob_start_len=0,
                return_text_in_logprobs=True,
            )
        ],
    )[0]
    assert len(out.events) == 1
    final = out.final
    assert final.finish_reason == {"type": "length", "length": 0}
    assert final.output_ids == [] and final.text == "" and final.completion_tokens == 0
    assert [e[1] for e in final.input_token_logprobs] == prompt
    assert final.input_token_logprobs[0][0] is None
    assert all(isinstance(e[0], float) and e[0] <= 0 for e in final.input_token_logprobs[1:])
    assert "".join(e[2] for e in final.input_token_logprobs) == loaded.tokenizer.decode(prompt)
    assert final.output_token_logprobs == []


def test_logprob_layout(engine: tuple[Scheduler, list[str]], loaded: Any) -> None:
    sched, _ = engine
    prompt = ids_of(loaded, PROMPTS[3])
    out = run(
        sched,
        request(
            prompt,
            max_new_tokens=5,
            ignore_eos=True,
            return_logprob=True,
            logprob_start_len=2,
            top_logprobs_num=3,
            token_ids_logprob=[5, 7],
        ),
    )[0]
    n = len(prompt)
    assert [e[1] for e in out.input_token_logprobs] == prompt[2:]
    assert out.input_token_logprobs[0][0] is None and out.input_token_logprobs[0][2] is None
    assert out.input_top_logprobs[0] is None and len(out.input_top_logprobs) == n - 2
    assert all(len(t) == 3 for t in out.input_top_logprobs[1:])
    assert out.input_token_ids_logprob[0] is None
    assert [[e[1] for e in x] for x in out.input_token_ids_logprob[1:]] == [[5, 7]] * (n - 3)
    assert [e[1] for e in out.output_token_logprobs] == out.output_ids
    for entry, top in zip(out.output_token_logprobs, out.output_top_logprobs, strict=True):
        assert top[0][1] == entry[1]  # greedy: the chosen token is the most likely one
        assert top[0][0] == pytest.approx(entry[0])
        assert top[0][0] >= top[1][0] >= top[2][0]
    default = run(sched, request(prompt, max_new_tokens=2, return_logprob=True))[0]
    assert default.input_token_logprobs == [[None, prompt[-1], None]]
    plain = run(sched, request(prompt, max_new_tokens=2))[0]
    assert plain.input_token_logprobs is None and plain.output_token_logprobs is None


def test_prefix_cache_reports_hits_and_keeps_output(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, lines = engine
    assert sched.flush_cache()
    shared = ids_of(loaded, " ".join(PROMPTS) * 3)
    first = run(
        sched, request(shared + ids_of(loaded, " river"), max_new_tokens=10, ignore_eos=True)
    )[0]
    assert first.cached_tokens == 0
    lines.clear()
    again = run(
        sched, request(shared + ids_of(loaded, " river"), max_new_tokens=10, ignore_eos=True)
    )[0]
    assert again.cached_tokens == first.prompt_tokens - 1
    assert again.output_ids == first.output_ids
    twins = greedy_twins()
    other = run(
        sched, request(shared + ids_of(loaded, " mountain city"), max_new_tokens=10, **twins)
    )[0]
    assert other.cached_tokens >= len(shared) - 1
    prefill = [line for line in lines if line.startswith("Prefill batch.")]
    assert f"#cached-token: {again.cached_tokens}, " in prefill[0]
    assert sched.snapshot().last_cache_hit_rate > 0.5
    assert sched.flush_cache()
    cold = run(
        sched, request(shared + ids_of(loaded, " mountain city"), max_new_tokens=10, **twins)
    )[0]
    assert cold.cached_tokens == 0
    assert_same_greedy(other, cold, loaded)


def test_identical_prompts_in_one_batch_share_the_prefill(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    sched.flush_cache()
    prompt = ids_of(loaded, PROMPTS[1])
    outs = run(sched, *[request(prompt, max_new_tokens=6, ignore_eos=True) for _ in range(3)])
    assert [o.cached_tokens for o in outs] == [0, len(prompt) - 1, len(prompt) - 1]
    assert outs[0].output_ids == outs[1].output_ids == outs[2].output_ids


def test_abort_running_and_queued(loaded: Any) -> None:
    sched = Scheduler(loaded, SchedulerConfig(max_running_requests=1))
    try:
        prompt = ids_of(loaded, PROMPTS[0])
        running = submit_collecting(
            sched, request(prompt, "abort-me-1", max_new_tokens=2000, ignore_eos=True)
        )
        queued = submit_collecting(sched, request(prompt, "abort-me-2", max_new_tokens=5))
        keep = submit_collecting(
            sched, request(prompt, "keep-1", max_new_tokens=3, ignore_eos=True)
        )
        while not running.events:
            running.done.wait(0.05)
        assert sched.snapshot().queued >= 1
        assert not sched.flush_cache()  # requests pending
        sched.abort("abort-me")
        wait_all([running, queued, keep], TIMEOUT)
        assert running.final.finish_reason == {
            "type": "abort",
            "message": "Aborted",
            "status_code": None,
            "err_type": None,
        }
        assert 0 < running.final.completion_tokens < 2000
        assert queued.final.finish_reason == {"type": "abort", "message": "Abort before prefill"}
        assert queued.final.prompt_tokens == 0
        assert keep.final.finish_reason == {"type": "length", "length": 3}
        assert sched.flush_cache()
        snap = sched.snapshot()
        assert snap.aborted_total == 2 and snap.running == 0 and snap.queued == 0
    finally:
        sched.shutdown()


def test_bad_requests_end_with_400_and_the_engine_keeps_serving(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, _ = engine
    prompt = ids_of(loaded, PROMPTS[0])
    oov = run(sched, request([1, loaded.info.vocab_size + 5], max_new_tokens=3))[0]
    assert oov.finish_reason["type"] == "abort" and oov.finish_reason["status_code"] == 400
    assert str(loaded.info.vocab_size + 5) in oov.finish_reason["message"]
    too_far = run(
        sched, request(prompt, max_new_tokens=3, return_logprob=True, logprob_start_len=len(prompt))
    )[0]
    assert too_far.finish_reason["status_code"] == 400
    assert too_far.finish_reason["message"] == (
        f"req.logprob_start_len={len(prompt)} is higher than the number of input tokens "
        f"len(req.origin_input_ids)={len(prompt)}. Please use a smaller logprob_start_len."
    )
    too_long = run(sched, request([5] * loaded.info.context_length, max_new_tokens=3))[0]
    assert "longer than the model's context length" in too_long.finish_reason["message"]
    fine = run(sched, request(prompt, max_new_tokens=3, ignore_eos=True))[0]
    assert fine.finish_reason == {"type": "length", "length": 3}


def test_exception_in_step_aborts_the_batch_and_is_logged(
    loaded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    sched = Scheduler(loaded, log=lines.append)
    try:
        prompt = ids_of(loaded, PROMPTS[0])
        real_decode = loaded.decode
        calls = {"n": 0}

        def flaky(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("simulated kernel failure")
            return real_decode(*args, **kwargs)

        monkeypatch.setattr(loaded, "decode", flaky)
        broken = run(sched, request(prompt, max_new_tokens=10, ignore_eos=True))[0]
        assert broken.finish_reason["type"] == "abort"
        assert "simulated kernel failure" in broken.finish_reason["message"]
        assert any(line.startswith("Scheduler hit an exception: Traceback") for line in lines)
        after = run(sched, request(prompt, max_new_tokens=4, ignore_eos=True))[0]
        assert after.finish_reason == {"type": "length", "length": 4}
    finally:
        monkeypatch.undo()
        sched.shutdown()


def test_decode_log_lines_and_snapshot(
    engine: tuple[Scheduler, list[str]], loaded: Any
) -> None:
    sched, lines = engine
    lines.clear()
    run(
        sched,
        *[request(ids_of(loaded, p), max_new_tokens=12, ignore_eos=True) for p in PROMPTS[:2]],
    )
    decode = [line for line in lines if line.startswith("Decode batch.")]
    assert decode, lines
    head = format_decode_batch(
        running_req=2, num_token=0, token_usage=0, gen_throughput=0, queue_req=0
    )
    assert decode[0].startswith(head.split("#token")[0])
    assert decode[0].endswith("#queue-req: 0, ")
    snap = sched.snapshot()
    assert snap.max_total_num_tokens == sched.config.max_total_num_tokens
    assert snap.last_gen_throughput > 0 and snap.decode_steps_total > 0


def test_kv_budget_queues_requests(loaded: Any) -> None:
    lines: list[str] = []
    prompt = ids_of(loaded, PROMPTS[1])
    budget = len(prompt) + 10  # room for one request at a time
    sched = Scheduler(loaded, SchedulerConfig(max_total_num_tokens=budget), log=lines.append)
    try:
        outs = run(sched, *[request(prompt, max_new_tokens=8, ignore_eos=True) for _ in range(2)])
        assert [o.completion_tokens for o in outs] == [8, 8]
        prefill = [line for line in lines if line.startswith("Prefill batch.")]
        assert len(prefill) == 2 and "#queue-req: 1, " in prefill[0]
    finally:
        sched.shutdown()
