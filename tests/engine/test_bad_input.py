"""Bad input: SGLang 0.4.10's status and error body each time, and the engine still serving."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
import requests

from sgl_notebook.server.ports import port_is_free
from tests.fixtures.engine_servers import engine_command, free_port, start_engine


@pytest.fixture
def alive(tiny_engine):
    """After the test: the engine still answers a real generation."""
    yield tiny_engine
    assert tiny_engine.process.poll() is None
    out = requests.post(tiny_engine.url + "/generate", timeout=60,
                        json={"text": "hello", "sampling_params": {"max_new_tokens": 2}})
    assert out.status_code == 200 and out.json()["meta_info"]["completion_tokens"] == 2


def post(engine, path, body, **kw):
    return requests.post(engine.url + path, json=body, timeout=60, **kw)


def test_unknown_sampling_key_is_500_like_sglang_0_4_10(alive):
    resp = post(alive, "/generate", {"text": "hi", "sampling_params": {"foo": 1}})
    assert resp.status_code == 500
    assert resp.text == "Internal Server Error"


def test_unknown_sampling_key_in_a_stream_drops_it_without_done(alive):
    body = {"text": "hi", "stream": True, "sampling_params": {"foo": 1}}
    with requests.post(alive.url + "/generate", json=body, stream=True, timeout=60) as r:
        assert r.status_code == 200
        try:
            lines = list(r.iter_lines())
        except requests.exceptions.ChunkedEncodingError:
            lines = []
    assert b"data: [DONE]" not in lines


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        ({"temperature": -1}, "temperature must be non-negative, got -1."),
        ({"top_p": 0}, "top_p must be in (0, 1], got 0."),
        ({"regex": "[a-", "max_new_tokens": 4}, "Invalid grammar request"),
        ({"json_schema": "{not json", "max_new_tokens": 4}, "Invalid grammar request"),
        ({"regex": "a", "json_schema": "{}"},
         "Only one of regex, json_schema, or ebnf can be set."),
    ],
)
def test_bad_sampling_values_are_400(alive, sampling, message):
    resp = post(alive, "/generate", {"text": "hi", "sampling_params": sampling})
    assert resp.status_code == 400
    body = resp.json()
    assert list(body) == ["error"] and list(body["error"]) == ["message"]
    assert body["error"]["message"].startswith(message)


def test_bad_value_in_a_stream_is_an_error_event_then_done(alive):
    body = {"text": "hi", "stream": True, "sampling_params": {"temperature": -1}}
    with requests.post(alive.url + "/generate", json=body, stream=True, timeout=60) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines == [
        b'data: {"error":{"message":"temperature must be non-negative, got -1."}}',
        b"data: [DONE]",
    ]


def test_prompt_longer_than_context_is_400(alive):
    ids = [5] * 2100
    resp = post(alive, "/generate", {"input_ids": ids, "sampling_params": {"max_new_tokens": 1}})
    assert resp.status_code == 400
    assert resp.json() == {"error": {"message": "The input (2100 tokens) is longer than the "
                                                "model's context length (2048 tokens)."}}
    resp = post(alive, "/generate", {"input_ids": [5] * 2000,
                                     "sampling_params": {"max_new_tokens": 100}})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith(
        "Requested token count exceeds the model's maximum context length of 2048 tokens."
    )


def test_malformed_json_is_400_validation_error(alive):
    resp = requests.post(alive.url + "/generate", data=b'{"text": "hi"',
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 400
    body = resp.json()
    assert body["object"] == "error" and body["type"] == "Bad Request" and body["code"] == 400
    assert "JSON decode error" in body["message"]


def test_missing_prompt_and_wrong_types(alive):
    resp = post(alive, "/generate", {"sampling_params": {}})
    assert resp.status_code == 400
    assert resp.json() == {"error": {"message": "Either text, input_ids or input_embeds "
                                                "should be provided."}}
    resp = post(alive, "/generate", {"text": 5})
    assert resp.status_code == 400 and resp.json()["type"] == "Bad Request"
    resp = post(alive, "/generate",
                {"input_ids": [10**9], "sampling_params": {"max_new_tokens": 1}})
    assert resp.status_code == 400 and "vocabulary" in resp.json()["error"]["message"]


def test_openai_errors_are_top_level_objects(alive):
    model = "tiny"
    resp = post(alive, "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": "hi"}],
                 "temperature": -1})
    assert resp.status_code == 400
    # The OpenAI models parse temperature as a float, hence "-1.0" (as in SGLang).
    assert resp.json() == {"object": "error",
                           "message": "temperature must be non-negative, got -1.0.",
                           "type": "BadRequestError", "param": None, "code": 400}
    resp = post(alive, "/v1/chat/completions", {"model": model, "messages": []})
    assert resp.json()["message"] == "Messages cannot be empty."
    resp = post(alive, "/v1/completions", {"model": model, "prompt": "x", "max_tokens": 0})
    assert resp.status_code == 400 and resp.json()["type"] == "Bad Request"
    assert "max_tokens must be positive" in resp.json()["message"]
    resp = post(alive, "/v1/chat/completions", {"model": model})  # messages missing
    assert resp.status_code == 400 and resp.json()["code"] == 400
    resp = requests.post(alive.url + "/v1/completions", data="prompt=x", timeout=30,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 400
    assert "Unsupported Media Type: Only 'application/json' is allowed" in resp.json()["message"]
    resp = post(alive, "/v1/completions", {"model": model, "prompt": "x", "regex": "[a-"})
    assert resp.status_code == 400 and resp.json()["message"].startswith("Invalid grammar")


def test_missing_model_path_fails_fast_with_a_clear_message(tmp_path):
    missing = tmp_path / "no-such-model"
    port = free_port()
    started = time.monotonic()
    proc = subprocess.run(engine_command(str(missing), port, []), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert time.monotonic() - started < 30  # no model load, no torch
    assert f"{missing} is not a local folder" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Nothing left listening on the port.
    # A new server could bind the port (connections the old one closed may linger in
    # TIME_WAIT; servers bind with SO_REUSEADDR, so those do not count).
    assert port_is_free("127.0.0.1", port)


def test_port_in_use_exits_non_zero_with_uvicorns_line(tiny_engine, tiny_model_dir):
    proc = subprocess.run(
        engine_command(str(tiny_model_dir), tiny_engine.port, []),
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_flag_values_exit_2_with_usage(tiny_model_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "sgl_notebook.engine", "--port", "notaport"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2 and "--port: invalid int value" in proc.stderr


def test_api_key_ignored_gpu_flags_and_server_side_options(tiny_model_dir, tmp_path):
    template = tmp_path / "template.jinja"
    template.write_text("{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}")
    extra = ["--enable-metrics", "--mem-fraction-static", "0.8", "--tp", "1",
             "--disable-cuda-graph", "--preferred-sampling-params", '{"max_new_tokens": 3}',
             "--chat-template", str(template)]
    with start_engine(str(tiny_model_dir), extra, tmp_path, api_key="sk-test") as engine:
        body = {"text": "hi", "sampling_params": {"max_new_tokens": 1}}
        resp = post(engine, "/generate", body)
        assert resp.status_code == 401 and resp.json() == {"error": "Unauthorized"}
        assert post(engine, "/generate", body,
                    headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert post(engine, "/generate", body, headers=engine.headers()).status_code == 200
        assert requests.get(engine.url + "/v1/models", timeout=30).status_code == 401
        assert requests.get(engine.url + "/health", timeout=30).status_code == 200
        assert requests.get(engine.url + "/metrics", timeout=30).status_code == 200
        assert any("Ignoring SGLang flags" in line and "--mem-fraction-static 0.8" in line
                   for line in engine.log_lines())
        # Server-side defaults apply under the request's own parameters.
        short = post(engine, "/generate", {"text": "hi", "sampling_params": {"ignore_eos": True}},
                     headers=engine.headers()).json()
        assert short["meta_info"]["completion_tokens"] == 3
        info = requests.get(engine.url + "/get_model_info", headers=engine.headers(), timeout=30)
        assert info.json()["preferred_sampling_params"] == '{"max_new_tokens": 3}'
        # --chat-template FILE replaces the model's template.
        from transformers import AutoTokenizer

        expected = len(AutoTokenizer.from_pretrained(str(tiny_model_dir))(
            "<<hi>>", add_special_tokens=False)["input_ids"])
        chat = post(engine, "/v1/chat/completions", {
            "model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}],
        }, headers=engine.headers()).json()
        assert chat["usage"]["prompt_tokens"] == expected


def test_broken_model_folder_exits_with_a_clear_message(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama"}')
    proc = subprocess.run(engine_command(str(broken), free_port(), []), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert f"Could not load the model from '{broken}'" in proc.stderr
    assert "server_args=ServerArgs(" in proc.stderr  # it got as far as loading


def _aborted_total(engine) -> float:
    text = requests.get(engine.url + "/metrics", timeout=30).text
    match = re.search(r"^sglang:num_aborted_requests_total\{[^}]*\} (\S+)$", text, re.M)
    assert match, text
    return float(match[1])


def test_a_bad_item_fails_its_batch_and_frees_the_others(alive):
    long = {"max_new_tokens": 1500, "ignore_eos": True}
    before = _aborted_total(alive)
    resp = post(alive, "/generate", {"text": ["a", "b"],
                                     "sampling_params": [long, {**long, "regex": "[a-"}]})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith("Invalid grammar request")
    deadline = time.monotonic() + 60
    while requests.post(alive.url + "/flush_cache", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the good item of the batch is still running"
        time.sleep(0.1)
    assert _aborted_total(alive) == before + 1  # the good item was aborted, not run to the end


def _gguf_variant(kind: str, tmp_path) -> tuple[str, list[str], str]:
    """A model path (and flags) that llama.cpp cannot serve, and the cause the error names."""
    from sgl_notebook.engine.runners.resolve import smollm2_gguf_path

    source = smollm2_gguf_path().read_bytes()
    target = tmp_path / f"{kind}.gguf"
    if kind == "not-gguf":
        target.write_text("<html>a download page, not a model</html>")
        return str(target), [], "is not a GGUF file"
    if kind == "truncated":
        target.write_bytes(source[: 30 << 20])
        return str(target), [], "Could not load the GGUF model"
    if kind == "architecture":
        data = bytearray(source)
        at = data.index(b"general.architecture") + len(b"general.architecture") + 12
        data[at : at + 5] = b"zzzzz"
        target.write_bytes(bytes(data))
        return str(target), [], "unknown model architecture: 'zzzzz'"
    target.write_bytes(source)
    return str(target), ["--context-length", "65536"], "context_length (65536) is greater"


@pytest.mark.parametrize("kind", ["not-gguf", "truncated", "architecture", "context"])
def test_a_gguf_llama_cpp_cannot_serve_is_one_line_before_the_port_opens(kind, tmp_path):
    path, flags, cause = _gguf_variant(kind, tmp_path)
    port = free_port()
    proc = subprocess.run(engine_command(path, port, flags), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if cause in line]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Uvicorn running" not in proc.stderr
    assert port_is_free("127.0.0.1", port)


def test_launch_raises_the_gguf_error_with_the_log_tail(tmp_path):
    import sgl_notebook as sn
    from sgl_notebook.server.errors import LaunchError

    path, _, cause = _gguf_variant("architecture", tmp_path)
    with pytest.raises(LaunchError) as info:
        sn.launch(path, engine="cpu", timeout=120)
    assert cause in str(info.value)
    assert not sn.servers()
