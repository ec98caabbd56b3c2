"""The native SGLang routes of a real engine process (tiny model), checked with ``requests``."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
import requests

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def generate(engine: Any, body: dict[str, Any], **kw: Any) -> requests.Response:
    return requests.post(engine.url + "/generate", json=body, timeout=120, **kw)


def sse_payloads(resp: requests.Response) -> tuple[list[Any], bool]:
    """JSON payloads of a ``/generate`` stream and whether ``data: [DONE]`` ended it."""
    payloads, done = [], False
    for line in resp.iter_lines():
        if not line:
            continue
        text = line.decode()
        assert text.startswith("data: "), text
        if text == "data: [DONE]":
            done = True
            break
        payloads.append(json.loads(text[6:]))
    return payloads, done


def test_generate_single_has_sglang_meta_info(tiny_engine):
    resp = generate(tiny_engine, {"text": "The capital city of France is",
                                  "sampling_params": {"temperature": 0, "max_new_tokens": 5}})
    assert resp.status_code == 200
    out = resp.json()
    meta = out["meta_info"]
    assert list(meta) == ["id", "finish_reason", "prompt_tokens", "completion_tokens",
                          "cached_tokens", "e2e_latency"]
    assert HEX32.match(meta["id"])
    assert meta["finish_reason"] == {"type": "length", "length": 5}
    assert meta["completion_tokens"] == 5 and meta["prompt_tokens"] > 0
    assert isinstance(out["text"], str) and "output_ids" not in out


def test_generate_input_ids_batch_and_n_are_prompt_major(tiny_engine):
    greedy = {"temperature": 0, "max_new_tokens": 4}
    solo = [generate(tiny_engine, {"text": t, "sampling_params": greedy}).json()["text"]
            for t in ("hello world", "the river")]
    batch = generate(tiny_engine, {"text": ["hello world", "the river"], "sampling_params": greedy})
    assert [o["text"] for o in batch.json()] == solo
    ids = generate(tiny_engine, {"input_ids": [5, 6, 7], "sampling_params": greedy}).json()
    assert ids["meta_info"]["prompt_tokens"] == 3

    n2 = generate(tiny_engine, {"text": ["hello world", "the river"],
                                "sampling_params": {**greedy, "n": 2}}).json()
    assert [o["text"] for o in n2] == [solo[0], solo[0], solo[1], solo[1]]
    rids = [o["meta_info"]["id"] for o in n2]
    assert len(set(rids)) == 4 and all(HEX32.match(r) for r in rids)


def test_stream_is_cumulative_and_ends_with_done(tiny_engine):
    body = {"text": "hello", "stream": True,
            "sampling_params": {"temperature": 0, "max_new_tokens": 6}}
    with requests.post(tiny_engine.url + "/generate", json=body, stream=True, timeout=120) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events, done = sse_payloads(r)
    # Updates that pile up while the client reads are coalesced (SGLang sends the newest).
    assert done and 2 <= len(events) <= 6
    texts = [e["text"] for e in events]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:], strict=False))
    counts = [e["meta_info"]["completion_tokens"] for e in events]
    assert counts == sorted(set(counts)) and counts[-1] == 6
    assert all(e["meta_info"]["finish_reason"] is None for e in events[:-1])
    assert events[-1]["meta_info"]["finish_reason"] == {"type": "length", "length": 6}
    plain = generate(tiny_engine, {**body, "stream": False}).json()
    assert texts[-1] == plain["text"]


def test_batched_stream_events_carry_index(tiny_engine):
    body = {"text": ["a b", "c d"], "stream": True,
            "sampling_params": {"temperature": 0, "max_new_tokens": 3}}
    with requests.post(tiny_engine.url + "/generate", json=body, stream=True, timeout=120) as r:
        events, done = sse_payloads(r)
    assert done
    assert {e["index"] for e in events} == {0, 1}
    finals = {e["index"]: e["text"] for e in events if e["meta_info"]["finish_reason"]}
    plain = generate(tiny_engine, {**body, "stream": False}).json()
    assert [finals[0], finals[1]] == [o["text"] for o in plain]


def test_logprobs_follow_sglang_layout(tiny_engine):
    out = generate(tiny_engine, {
        "text": "hello world the", "return_logprob": True, "logprob_start_len": 0,
        "top_logprobs_num": 2, "return_text_in_logprobs": True,
        "sampling_params": {"temperature": 0, "max_new_tokens": 3},
    }).json()
    meta = out["meta_info"]
    inp, outp = meta["input_token_logprobs"], meta["output_token_logprobs"]
    assert len(inp) == meta["prompt_tokens"] and len(outp) == 3
    assert inp[0][0] is None and all(isinstance(e[0], float) for e in inp[1:])
    assert all(len(e) == 3 and isinstance(e[1], int) and isinstance(e[2], str) for e in outp)
    assert "".join(e[2] for e in outp) == out["text"]
    assert len(meta["output_top_logprobs"]) == 3
    assert all(len(top) == 2 for top in meta["output_top_logprobs"])
    # Default logprob_start_len: only the last prompt position.
    short = generate(tiny_engine, {"text": "hello world the", "return_logprob": True,
                                   "sampling_params": {"max_new_tokens": 1}}).json()
    assert len(short["meta_info"]["input_token_logprobs"]) == 1
    assert short["meta_info"]["input_token_logprobs"][0][0] is None
    assert short["meta_info"]["input_token_logprobs"][0][2] is None


def test_stop_string_is_matched_and_trimmed(tiny_engine):
    greedy = {"temperature": 0, "max_new_tokens": 12}
    full = generate(tiny_engine, {"text": "the city", "sampling_params": greedy}).json()["text"]
    stop = full[3:6]
    assert stop.strip(), full
    out = generate(tiny_engine, {"text": "the city",
                                 "sampling_params": {**greedy, "stop": [stop]}}).json()
    assert out["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop}
    assert out["text"] == full[: full.index(stop)]


def test_max_new_tokens_zero_gives_length_zero(tiny_engine):
    out = generate(tiny_engine, {"text": "hello", "sampling_params": {"max_new_tokens": 0}}).json()
    assert out["text"] == ""
    assert out["meta_info"]["finish_reason"] == {"type": "length", "length": 0}


def test_info_routes(tiny_engine, tiny_model_dir):
    for path in ("/get_model_info", "/model_info"):
        info = requests.get(tiny_engine.url + path, timeout=30).json()
        assert info == {"model_path": str(tiny_model_dir), "tokenizer_path": str(tiny_model_dir),
                        "is_generation": True, "preferred_sampling_params": None}
    for path in ("/get_server_info", "/server_info"):
        server = requests.get(tiny_engine.url + path, timeout=30).json()
        assert server["version"] == "0.4.10.post2" and server["status"] == "ready"
        assert server["port"] == tiny_engine.port and server["enable_metrics"] is True
        assert server["max_total_num_tokens"] > 0
        assert "last_gen_throughput" in server["internal_states"][0]
    models = requests.get(tiny_engine.url + "/v1/models", timeout=30).json()
    card = models["data"][0]
    assert models["object"] == "list" and card["id"] == str(tiny_model_dir)
    assert card["owned_by"] == "sglang" and card["max_model_len"] == 2048
    one = requests.get(tiny_engine.url + "/v1/models/" + str(tiny_model_dir), timeout=30)
    assert one.json()["id"] == str(tiny_model_dir)
    missing = requests.get(tiny_engine.url + "/v1/models/nope", timeout=30)
    assert missing.status_code == 404
    assert missing.json()["error"] == {"message": "The model 'nope' does not exist",
                                       "type": "invalid_request_error", "param": "model",
                                       "code": "model_not_found"}


def test_health_generate_runs_a_one_token_prefill(tiny_engine):
    start = len(tiny_engine.log_lines())
    assert requests.get(tiny_engine.url + "/health_generate", timeout=60).status_code == 200
    line = tiny_engine.wait_for_log("Prefill batch.", start=start)
    assert "#new-token: 1," in line


def test_flush_cache_text_body(tiny_engine):
    for method in ("get", "post"):
        resp = getattr(requests, method)(tiny_engine.url + "/flush_cache", timeout=30)
        assert resp.status_code == 200
        assert resp.text.startswith("Cache flushed.\nPlease check backend logs")


def test_prefix_cache_reports_cached_tokens(tiny_engine):
    prompt = "the capital city of France is a city on the river " * 8
    body = {"text": prompt, "sampling_params": {"temperature": 0, "max_new_tokens": 2}}
    first = generate(tiny_engine, body).json()
    second = generate(tiny_engine, body).json()
    assert second["meta_info"]["cached_tokens"] > 0
    assert second["text"] == first["text"]


def _stream_in_thread(engine: Any, body: dict[str, Any]) -> tuple[threading.Thread, list[Any]]:
    events: list[Any] = []

    def run() -> None:
        with requests.post(engine.url + "/generate", json=body, stream=True, timeout=300) as r:
            for line in r.iter_lines():
                if line.startswith(b"data: {"):
                    events.append(json.loads(line[6:]))

    thread = threading.Thread(target=run)
    thread.start()
    return thread, events


def test_abort_request_by_rid_and_abort_all(tiny_engine):
    long = {"temperature": 0, "max_new_tokens": 1500, "ignore_eos": True}
    thread, events = _stream_in_thread(
        tiny_engine, {"text": "hello", "rid": "abort-me-1", "stream": True, "sampling_params": long}
    )
    tiny_engine_wait(events)
    busy = requests.post(tiny_engine.url + "/flush_cache", timeout=30)
    assert busy.status_code == 400 and busy.text.startswith("Cache flushed.\n")
    # 0.4.10 forwards only rids it knows: an unknown prefix is a no-op.
    assert requests.post(tiny_engine.url + "/abort_request", json={"rid": "abort-me"},
                         timeout=30).status_code == 200
    assert requests.post(tiny_engine.url + "/abort_request", json={"rid": "abort-me-1"},
                         timeout=30).status_code == 200
    thread.join(120)
    assert not thread.is_alive()
    assert events[-1]["meta_info"]["finish_reason"]["type"] == "abort"
    assert events[-1]["meta_info"]["completion_tokens"] < 1500

    thread, events = _stream_in_thread(
        tiny_engine, {"text": "world", "stream": True, "sampling_params": long}
    )
    tiny_engine_wait(events)
    requests.post(tiny_engine.url + "/abort_request", json={"abort_all": True}, timeout=30)
    thread.join(120)
    assert events[-1]["meta_info"]["finish_reason"]["type"] == "abort"
    assert requests.get(tiny_engine.url + "/health", timeout=60).status_code == 200


def tiny_engine_wait(events: list[Any], timeout: float = 120.0) -> None:
    """Wait until a streaming thread has received its first event."""
    import time

    deadline = time.monotonic() + timeout
    while not events and time.monotonic() < deadline:
        time.sleep(0.05)
    assert events, "the stream produced no event"


def test_metrics_have_sglang_names_and_labels(tiny_engine, tiny_model_dir):
    generate(tiny_engine, {"text": "hello", "sampling_params": {"max_new_tokens": 3}})
    text = requests.get(tiny_engine.url + "/metrics", timeout=30).text
    sched = (f'{{engine_type="unified",model_name="{tiny_model_dir}",pp_rank="0",tp_rank="0"}}')
    for gauge in ("num_running_reqs", "num_queue_reqs", "token_usage", "num_used_tokens",
                  "gen_throughput", "cache_hit_rate"):
        assert f"sglang:{gauge}{sched}" in text
    req = f'{{model_name="{tiny_model_dir}"}}'
    for counter in ("prompt_tokens_total", "generation_tokens_total", "cached_tokens_total",
                    "num_requests_total"):
        assert re.search(rf"^sglang:{counter}{re.escape(req)} [1-9]", text, re.M) or \
            counter == "cached_tokens_total", counter
    for hist in ("time_to_first_token_seconds", "inter_token_latency_seconds",
                 "e2e_request_latency_seconds"):
        assert f"sglang:{hist}_bucket{{" in text
        assert f"sglang:{hist}_count{req}" in text
    assert "_created" not in text


def _wait_until_idle(engine: Any, timeout: float = 60.0) -> None:
    """``/flush_cache`` succeeds only when the scheduler holds no request: poll it."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.post(engine.url + "/flush_cache", timeout=30).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the engine still holds a request")


def _aborted_total(engine: Any) -> float:
    text = requests.get(engine.url + "/metrics", timeout=30).text
    match = re.search(r"^sglang:num_aborted_requests_total\{[^}]*\} (\S+)$", text, re.M)
    assert match, text
    return float(match[1])


def test_client_disconnect_ends_the_request(tiny_engine):
    long = {"temperature": 0, "max_new_tokens": 1900, "ignore_eos": True}
    before = _aborted_total(tiny_engine)
    with requests.post(tiny_engine.url + "/generate", stream=True, timeout=60,
                       json={"text": "hello", "stream": True, "sampling_params": long}) as r:
        next(r.iter_lines())  # one event, then hang up
    _wait_until_idle(tiny_engine)
    assert _aborted_total(tiny_engine) == before + 1

    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(tiny_engine.url + "/generate", timeout=(10, 1),
                      json={"text": "hello", "sampling_params": long})
    _wait_until_idle(tiny_engine)
    assert _aborted_total(tiny_engine) == before + 2
    ok = generate(tiny_engine, {"text": "hi", "sampling_params": {"max_new_tokens": 2}})
    assert ok.status_code == 200


def _raw_chunks(engine: Any, body: dict[str, Any]) -> list[bytes]:
    """The HTTP/1.1 chunks of a streamed response, as framed by the server."""
    import socket

    payload = json.dumps(body).encode()
    request = (
        f"POST /generate HTTP/1.1\r\nHost: 127.0.0.1:{engine.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + payload
    data = b""
    with socket.create_connection(("127.0.0.1", engine.port), timeout=120) as sock:
        sock.sendall(request)
        while block := sock.recv(65536):
            data += block
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2:]
    return chunks


def test_each_stream_event_is_its_own_http_chunk(tiny_engine):
    # The sglang Runtime compares whole chunks with b"data: [DONE]\n\n".
    chunks = _raw_chunks(tiny_engine, {"text": "hello", "stream": True,
                                       "sampling_params": {"max_new_tokens": 4}})
    assert chunks[-1] == b"data: [DONE]\n\n"
    for chunk in chunks[:-1]:
        assert chunk.startswith(b"data: {") and chunk.endswith(b"}\n\n")
        assert chunk.count(b"data: ") == 1
        json.loads(chunk[6:])
