"""%%sgl in a real kernel against the real CPU engine (tiny model): the widget's redraw budget,
the final text, interrupting mid-stream, sessions, -o capture and the UsageErrors."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.magics.kernel_session import KernelSession


@pytest.fixture(scope="module")
def kernel(tiny_engine) -> Iterator[KernelSession]:
    session = KernelSession()
    session.ok("%load_ext sgl_notebook")
    session.ok(f"%sgl connect {tiny_engine.url} --name tiny")
    yield session
    session.close()


def _server_answer(url: str, prompt: str, max_tokens: int) -> str:
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    response = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)
    return str(response.json()["choices"][0]["message"]["content"])


def test_stream_redraws_at_most_20_per_second_and_ends_with_the_servers_answer(kernel, tiny_engine):
    prompt = "Tell me a story about a cat"
    execution = kernel.ok(
        "%%sgl --temperature 0 --max-tokens 64 -o streamed\n" + prompt, timeout=240
    )
    updates = execution.widget_updates()
    assert updates, "the widget was never redrawn"
    # at most ~20 redraws per second (the default is 10), on the kernel's own message clock
    stamps = [u["header"]["date"] for u in updates]
    span = (stamps[-1] - stamps[0]).total_seconds()
    assert len(updates) <= 10 * span + 2  # the default update_rate
    # the stream had more chunks than redraws: updates were coalesced
    chunks = kernel.ok("print(streamed.usage['completion_tokens'])").stdout().strip()
    assert int(chunks) == 64
    # the widget was replaced in place by a static copy holding the answer
    finals = execution.outputs(("update_display_data",))
    assert finals and "text/html" in finals[-1]["data"] and "text/plain" in finals[-1]["data"]
    text = kernel.ok("print(repr(streamed.text))").stdout().strip()
    assert eval(text) == _server_answer(tiny_engine.url, prompt, 64)


def test_many_samples_stream_side_by_side_within_the_budget(kernel):
    execution = kernel.ok("%%sgl --n 3 --max-tokens 40 -o trio\nList some fruits", timeout=240)
    updates = execution.widget_updates()
    chunk_total = int(
        kernel.ok(
            "print(sum(len(r.text) > 0 for r in trio),"
            " sum(r.usage['completion_tokens'] for r in trio))"
        )
        .stdout()
        .split()[1]
    )
    assert len(updates) < chunk_total  # 120 chunks, far fewer redraws
    stamps = [u["header"]["date"] for u in updates]
    assert len(updates) <= 20 * (stamps[-1] - stamps[0]).total_seconds() + 2
    final = execution.outputs(("update_display_data",))[-1]["data"]["text/html"]
    assert final.count('class="sgl-card"') == 3 and "display:flex" in final


def _aborted_total(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("sglang:num_aborted_requests_total"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_interrupt_mid_stream_aborts_keeps_partial_text_and_the_kernel(kernel, tiny_engine):
    log_start = len(tiny_engine.log_lines())
    msg_id = kernel.submit("%%sgl --max-tokens 1500 -o partial\nWrite a very long essay")
    interrupted = []

    def interrupt_after_text(msg, messages):
        if not interrupted and len([m for m in messages if m["msg_type"] == "comm_msg"]) >= 4:
            interrupted.append(True)
            kernel.manager.interrupt_kernel()

    execution = kernel.collect(msg_id, timeout=240, on_message=interrupt_after_text)
    assert interrupted, "the stream ended before it could be interrupted"
    assert execution.status == "ok"  # the cell ends cleanly: the partial answer is the result
    state = kernel.ok(
        "print(partial.interrupted, partial.usage['completion_tokens'] > 0, len(partial.text) > 0)"
    )
    assert state.stdout().split() == ["True", "True", "True"]
    final = execution.outputs(("update_display_data",))[-1]["data"]["text/plain"]
    assert "finish: interrupted" in final
    # the request was aborted on the server by its rid, and the server keeps serving
    rid = kernel.ok("print(partial.rid)").stdout().strip()
    tiny_engine.wait_for_log("POST /abort_request", start=log_start, timeout=30)
    assert rid.startswith("sglnb-")
    assert _aborted_total(tiny_engine.url) >= 1
    assert kernel.ok("1 + 1").status == "ok"
    after = kernel.ok("%%sgl --max-tokens 4 -o after\nStill there?")
    assert kernel.ok("print(after.finish_reason)").stdout().strip() == "length"
    assert after.status == "ok"


def test_session_over_two_cells_and_templating(kernel):
    kernel.ok("topic = 'tea'")
    kernel.ok("%%sgl --session chat1 --max-tokens 4 -o first\nTell me about {{ topic }}")
    kernel.ok("%%sgl --session chat1 --max-tokens 4 -o second\nAnd more?")
    history = (
        kernel.ok(
            "m = [c for c in get_ipython().configurables if type(c).__name__ == 'SglMagics'][0]\n"
            "print([x['role'] for x in m.sessions['chat1']])\n"
            "print(m.sessions['chat1'][0]['content'])"
        )
        .stdout()
        .splitlines()
    )
    assert history[0] == "['user', 'assistant', 'user', 'assistant']"
    assert history[1] == "Tell me about tea"
    kernel.ok("%sgl session reset chat1")


@pytest.mark.parametrize(
    ("cell", "ename"),
    [
        ("%%sgl --max-tokns 3\nhi", "UnknownOptionError"),
        ("%%sgl\n{{ undefined_thing }}", "TemplateVariableError"),
        ("%%sgl --json-schema '{\"type\": 3}'\nhi", "InvalidSchemaError"),
        ("%%sgl --server tinny\nhi", "UnknownServerError"),
        ("%sgl use nobody", "UnknownServerError"),
    ],
)
def test_mistakes_in_a_kernel_are_one_line_errors_and_the_kernel_carries_on(kernel, cell, ename):
    execution = kernel.run(cell)
    assert execution.status == "error"
    assert execution.reply["content"]["ename"] == ename
    errors = [m["content"] for m in execution.messages if m["msg_type"] == "error"]
    assert errors and len(errors[0]["traceback"]) == 1  # no stack trace
    assert kernel.ok("print('alive')").stdout() == "alive\n"


def test_a_server_side_refusal_is_a_one_line_error(kernel):
    execution = kernel.run("%%sgl --max-tokens 100000\nhi")
    assert execution.reply["content"]["ename"] == "ServerRequestError"
    assert "context length" in execution.reply["content"]["evalue"]


def test_json_schema_result_is_parsed(kernel):
    kernel.ok(
        # the tiny random model loves whitespace, so give it no room for any
        "schema = {'enum': ['yes', 'no']}"
    )
    kernel.ok("%%sgl --json-schema schema --max-tokens 40 --temperature 0 -o data\nGive n")
    out = kernel.ok("print(repr(data.text), data.json in ('yes', 'no'))").stdout()
    assert out.split()[1] == "True", out


def test_launch_shows_live_phases_then_the_card_and_stop_ends_it(kernel, tiny_model_dir):
    execution = kernel.ok(f"%sgl launch {tiny_model_dir} --engine cpu --name k-launch", timeout=300)
    phases = [u["content"]["data"]["state"]["value"] for u in execution.widget_updates()]
    assert any("loading weights" in value and "width:" in value for value in phases)
    card = execution.outputs(("update_display_data",))[-1]["data"]
    assert "name: k-launch" in card["text/plain"] and "engine: cpu" in card["text/plain"]
    assert 'class="sgl-card"' in card["text/html"] and "running" in card["text/html"]
    magics = "get_ipython().find_line_magic('sgl').__self__"
    pid = int(kernel.ok(f"print({magics}.book.get().pid)").stdout())
    kernel.ok("%sgl stop k-launch")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    kernel.ok("%sgl use tiny")


def test_failed_launch_leaves_the_reason_and_what_to_do(kernel, tmp_path):
    execution = kernel.run(f"%sgl launch {tmp_path / 'missing'} --engine cpu --name k-bad")
    assert execution.reply["content"]["ename"] == "LaunchFailedError"
    card = execution.outputs(("update_display_data",))[-1]["data"]
    assert "failed" in card["text/html"] and "What to do" in card["text/html"]
    assert "does not exist" in card["text/plain"]
