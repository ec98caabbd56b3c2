"""What a newcomer trips over (issue 12), in a real kernel through jupyter_client against the real
CPU engine (its default model, SmolLM2 on llama.cpp): the launch view, errors that come from the
server or from elsewhere, and the rendering of answers.

One server is launched by the module's kernel and shared; the tests that stop or interrupt
servers launch their own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from sgl_notebook.server.registry import find_record, list_records, stop_record
from tests.magics.kernel_session import Execution, KernelSession

NAME = "newcomer"


@pytest.fixture(scope="module")
def kernel() -> Iterator[KernelSession]:
    session = KernelSession()
    session.ok("%load_ext sgl_notebook")
    # no GPU, whatever the machine: `auto` picks the CPU engine and says why
    session.ok("import os; os.environ['CUDA_VISIBLE_DEVICES'] = ''")
    yield session
    session.run("%sgl stop --all")
    session.close()
    for record in list_records():  # a failed test must not leave an engine behind
        stop_record(record)


@pytest.fixture(scope="module")
def launched(kernel: KernelSession) -> Execution:
    """``%sgl launch`` of the default model with `auto`: every message of that cell."""
    execution = kernel.ok(
        f"%sgl launch --name {NAME} -- --enable-cache-report --enable-metrics", timeout=300
    )
    return execution


def _html(content: dict[str, Any]) -> str:
    return str(content.get("data", {}).get("text/html", ""))


def _final_html(execution: Execution) -> str:
    finals = execution.outputs(("update_display_data",))
    assert finals, "the live view was never replaced by its final card"
    return _html(finals[-1])


def _widget_values(execution: Execution) -> list[str]:
    """The live widget's HTML: its first value (comm_open), then every redraw."""
    opened = [
        m["content"]["data"]["state"]["value"]
        for m in execution.messages
        if m["msg_type"] == "comm_open" and "value" in m["content"]["data"].get("state", {})
    ]
    return opened + [m["content"]["data"]["state"]["value"] for m in execution.widget_updates()]


def _engine_processes(kernel: KernelSession) -> list[psutil.Process]:
    kernel_pid = kernel.manager.provisioner.process.pid  # type: ignore[union-attr]
    return [
        p
        for p in psutil.Process(kernel_pid).children(recursive=True)
        if "sgl_notebook.engine" in " ".join(p.cmdline())
    ]


# ------------------------------------------------------------------ the launch view


def test_launch_view_names_model_engine_and_why_and_only_its_phases(launched):
    views = _widget_values(launched)
    header = views[0]
    assert "launching smollm2 (SmolLM2-135M-Instruct) on the cpu engine" in header
    assert "no GPU is visible, so the bundled CPU engine runs" in header
    for view in views:  # the CPU engine captures no graphs: that phase is never offered
        assert "graph capture" not in view
        assert "loading weights" in view and "warm-up" in view


def test_launch_clock_ticks_between_phases(launched):
    clocks = [
        int(m.group(1))
        for v in _widget_values(launched)
        if (m := re.search(r'class="sgl-launch-clock">(\d+) s<', v))
    ]
    # redrawn when a second passes, not only when a phase arrives; never more than that
    seconds = sorted(set(clocks))
    assert len(seconds) >= 2 and seconds == list(range(seconds[0], seconds[-1] + 1))
    assert len(clocks) <= 2 * len(seconds) + 8  # ticks plus phase changes: cheap


def test_final_card_says_ready_in_and_aligns_its_table(launched):
    final = _final_html(launched)
    assert re.search(r"Ready in \d+\.\d s", final)
    assert "no GPU is visible" in final  # why that engine, kept on the card
    labels = re.findall(r'<th scope="row" style="([^"]*)"', final)
    values = re.findall(r'<td style="([^"]*)"><code>', final)
    assert labels and len(labels) == len(values)
    # JupyterLab right-aligns output tables unless told: every cell says where it goes
    assert all("text-align:left" in css for css in labels + values)
    plain = launched.outputs(("update_display_data",))[-1]["data"]["text/plain"]
    assert plain.startswith("Ready in ")


def test_unknown_engine_is_one_error_and_nothing_is_shown(kernel):
    execution = kernel.run("%sgl launch --engine gpu")
    assert execution.status == "error"
    assert execution.reply["content"]["ename"] == "SglUsageError"
    assert "'gpu' is not one of auto, sglang, vllm, cpu" in execution.error()
    assert execution.outputs() == []  # no failure card before the same error
    assert len(execution.reply["content"]["traceback"]) == 1


def test_interrupting_a_launch_leaves_one_line_a_cancelled_card_and_nothing_running(kernel):
    before = {r.id for r in list_records()}
    interrupted: list[bool] = []

    def interrupt_once_loading(msg: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        state = msg["content"].get("data", {}).get("state", {})
        if "● loading" in str(state.get("value", "")) and not interrupted:
            interrupted.append(True)
            kernel.manager.interrupt_kernel()

    msg_id = kernel.submit("%sgl launch --engine cpu --name cancel-me")
    execution = kernel.collect(msg_id, timeout=300, on_message=interrupt_once_loading)
    assert execution.status == "error"
    content = execution.reply["content"]
    assert content["ename"] == "LaunchCancelledError"
    assert content["evalue"] == "launch cancelled; nothing left running"
    assert len(content["traceback"]) == 1  # one line, not a KeyboardInterrupt traceback
    final = _final_html(execution)
    assert "cancelled" in final and "KeyboardInterrupt" not in final
    assert find_record("cancel-me") is None
    assert {r.id for r in list_records()} <= before
    assert all(
        "cancel-me" not in " ".join(p.cmdline()) for p in _engine_processes(kernel)
    ), "the cancelled launch left a process"
    kernel.ok("print(1)")  # the kernel carries on


def test_help_is_the_same_as_the_question_mark(kernel):
    expected = kernel.ok(
        "import inspect; print(inspect.cleandoc(get_ipython().find_line_magic('sgl').__doc__))"
    ).stdout()
    assert "%sgl launch" in expected and "restart" in expected
    for line in ("%sgl help", "%sgl --help", "%sgl -h"):
        assert kernel.ok(line).stdout() == expected, line
    launch_help = kernel.ok("%sgl launch --help").stdout()
    assert "%sgl launch [--engine ENGINE]" in launch_help and "stop after this many" in launch_help


# ---------------------------------------------------------- errors from the server


def _post_count(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("sglang:num_requests_total"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_invalid_regex_is_refused_in_the_kernel_with_its_cause(kernel, launched):
    execution = kernel.run("%%sgl --regex '[0-9'\nA number?")
    assert execution.status == "error"
    message = execution.error()
    assert "unterminated character set at position 0" in message
    assert 'the "[" has no closing "]"' in message
    assert execution.outputs() == []  # no empty "tokens: 0" stub above the error


def test_a_regex_only_the_server_refuses_brings_its_logged_reason(kernel, launched):
    # a backreference compiles in Python but no grammar engine takes it
    execution = kernel.run("%%sgl --regex '(a)\\1' --max-tokens 4\nA letter?")
    assert execution.status == "error"
    message = execution.error()
    assert "Invalid grammar request" in message  # the server's reply: it names no cause
    assert "The server's log says:" in message and "key_string='(a)" in message
    assert execution.outputs() == []


def test_invalid_json_schema_names_the_path_before_anything_is_sent(kernel, launched):
    kernel.ok("import sgl_notebook")
    server_url = kernel.ok(
        f"print([s.url for s in sgl_notebook.servers() if s.name == {NAME!r}][0])"
    ).stdout().strip()
    sent = _post_count(server_url)
    started = time.monotonic()
    execution = kernel.run(
        "%%sgl --json-schema '{\"type\": \"object\", "
        "\"properties\": {\"name\": {\"type\": \"objekt\"}}}'\nA person"
    )
    took = time.monotonic() - started
    assert execution.status == "error"
    message = execution.error()
    assert "properties.name.type: 'objekt' is not a JSON type" in message
    assert "Did you mean 'object'?" in message
    deeper = kernel.run(
        "%%sgl --json-schema '{\"type\": \"object\", "
        "\"properties\": {\"age\": {\"type\": \"integer\", \"minimum\": \"zero\"}}}'\nA person"
    )
    assert "properties.age.minimum: 'zero' is not a number" in deeper.error()
    assert _post_count(server_url) == sent  # refused in the kernel: the server saw nothing
    # jsonschema's import alone takes seconds (its format checkers build parsers): not used
    assert kernel.ok("import sys; print('jsonschema' in sys.modules)").stdout().strip() == "False"
    print(f"invalid schema refused in {took:.2f} s")


def test_an_interrupted_answer_ends_with_abort_and_its_prompt_tokens(kernel, launched):
    def interrupt_after_a_few_redraws(msg: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        redraws = [m for m in messages if m["msg_type"] == "comm_msg"]
        if len(redraws) == 3 and msg["msg_type"] == "comm_msg":  # once, not on later messages
            kernel.manager.interrupt_kernel()

    msg_id = kernel.submit(
        "%%sgl --max-tokens 2000 --temperature 1 -o cut\nWrite a very long story about a ship."
    )
    execution = kernel.collect(msg_id, timeout=300, on_message=interrupt_after_a_few_redraws)
    assert execution.status == "ok", execution.error()
    out = kernel.ok(
        "print(cut.finish_reason, cut.interrupted, cut.usage.get('prompt_tokens'),"
        " cut.usage.get('completion_tokens'), len(cut.text) > 0)"
    ).stdout().split()
    assert out[0] == "abort" and out[1] == "True"
    assert int(out[2]) > 0 and int(out[3]) < 2000 and out[4] == "True"


def test_a_server_stopped_from_the_sidebar_says_so_and_restarts(kernel):
    from sgl_notebook.jupyter_server.handlers import STOPPED_FROM_LAB

    kernel.ok("%sgl launch --engine cpu --name live", timeout=300)
    record = find_record("live")
    assert record is not None
    assert stop_record(record, by=STOPPED_FROM_LAB)  # what the sidebar's Stop button runs
    execution = kernel.run("%%sgl -s live --max-tokens 4\nHello")
    assert execution.status == "error"
    message = execution.error()
    assert "server 'live' was stopped from JupyterLab (the SGLang servers sidebar)" in message
    assert "%sgl restart live" in message and "%sgl launch" in message
    assert "server.restart()" not in message  # the magic's next step, not the Python API's
    assert "\n" not in execution.reply["content"]["evalue"]  # the log tail is folded, not here
    folded = [_html(c) for c in execution.outputs(("display_data",))]
    assert len(folded) == 1 and "<details" in folded[0] and "log lines of live" in folded[0]
    restarted = kernel.ok("%sgl restart live", timeout=300)
    assert re.search(r"Ready in \d+\.\d s", _final_html(restarted))
    assert kernel.ok("%%sgl -s live --max-tokens 4 -o again\nHello").status == "ok"
    kernel.ok("%sgl stop live")


def test_a_server_killed_from_outside_says_by_what(kernel):
    kernel.ok("%sgl launch --engine cpu --name doomed", timeout=300)
    record = find_record("doomed")
    assert record is not None and record.pid is not None
    psutil.Process(record.pid).kill()  # what the OOM killer or a `kill -9` does
    message = kernel.run("%%sgl -s doomed --max-tokens 4\nHello").error()
    assert "server 'doomed' was killed by SIGKILL (exit code -9), not by sgl-notebook" in message
    assert "%sgl restart doomed" in message
    kernel.run("%sgl stop doomed")


# ---------------------------------------------------------------- rendering


def test_n_samples_are_labelled_alike_and_cached_never_exceeds_prompt(kernel, launched):
    cell = "%%sgl --n 3 --max-tokens 8 --temperature 1 -o trio\nName three colours of the sea."
    kernel.ok(cell, timeout=240)  # the second run hits the prefix cache
    execution = kernel.ok(cell, timeout=240)
    final = _final_html(execution)
    assert [f"sample {i}" for i in (1, 2, 3)] == re.findall(r">(sample \d)", final)
    assert ">answer" not in final
    live = _widget_values(execution)[-1]
    assert re.findall(r">(sample \d)<", live) == ["sample 1", "sample 2", "sample 3"]
    for prompt, cached in re.findall(
        r"prompt: <b>(\d+)</b></span>(?: · <span>cached: <b>(\d+)</b>)?", final
    ):
        assert not cached or int(cached) <= int(prompt)
    usage = kernel.ok(
        "print([(r.usage.get('prompt_tokens'), r.usage.get('cached_tokens')) for r in trio])"
    ).stdout()
    assert "None)" in usage  # per sample, the cache hits of one answer are not known


def test_no_stream_shows_latency_not_ttft(kernel, launched):
    execution = kernel.ok("%%sgl --no-stream --max-tokens 8 -o whole\nSay hi.", timeout=240)
    html = _html(execution.outputs(("display_data",))[-1])
    assert "latency: <b>" in html and "TTFT" not in html
    assert kernel.ok("print(whole.ttft, whole.elapsed > 0)").stdout().split() == ["None", "True"]


def test_info_never_shows_context_length_none(kernel, launched):
    execution = kernel.ok(f"%sgl info {NAME}")
    plain = execution.outputs(("execute_result",))[-1]["data"]["text/plain"]
    assert "None" not in plain
    assert re.search(r"^context_length: \d+$", plain, re.M)


def test_logprobs_have_a_legend_and_a_hover_card(kernel, launched):
    execution = kernel.ok("%%sgl --logprobs --max-tokens 6 --temperature 0\nSay hi.", timeout=240)
    final = _final_html(execution)
    assert 'class="sgl-logprob-legend"' in final and "hover a token" in final
    assert final.count('class="sgl-tok-card"') == final.count('class="sgl-tok"') >= 1
    assert 'title="p=' not in final


def test_restart_refuses_what_it_cannot_restart(kernel, launched):
    unknown = kernel.run("%sgl restart nosuch")
    assert unknown.reply["content"]["ename"] == "UnknownServerError"
    assert "No server named 'nosuch'" in unknown.error()
    url = kernel.ok(  # the import: this test may run first in its kernel
        "import sgl_notebook\n"
        f"print([s.url for s in sgl_notebook.servers() if s.name == {NAME!r}][0])"
    ).stdout().strip()
    kernel.ok(f"%sgl connect {url} --name remote")
    connected = kernel.run("%sgl restart remote")
    assert connected.status == "error" and len(connected.reply["content"]["traceback"]) == 1
    assert "was connected by URL; restart it where it runs" in connected.error()
    assert kernel.run("%sgl restart --bogus").reply["content"]["ename"] == "UnknownOptionError"
    kernel.ok(f"%sgl use {NAME}")
