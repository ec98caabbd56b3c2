"""The engine's log lines, against SGLang 0.4.10's formats (reference §1.1-§1.4)."""

from __future__ import annotations

import re
import subprocess
import time

import requests

from sgl_notebook.protocol.phases import LaunchPhase, parse_phase_line
from tests.fixtures.engine_servers import engine_command, free_port, start_engine, stop_process

TS = r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] "
GB = r"\d+\.\d{2}"
STARTUP = [
    rf"{TS}server_args=ServerArgs\(model_path='[^']+', .*\)$",
    rf"{TS}Load weight begin\. avail mem={GB} GB$",
    rf"{TS}Load weight end\. type=LlamaForCausalLM, dtype=torch\.float32, avail mem={GB} GB, "
    rf"mem usage={GB} GB\.$",
    rf"{TS}KV Cache is allocated\. #tokens: \d+, K size: {GB} GB, V size: {GB} GB$",
    rf"{TS}Memory pool end\. avail mem={GB} GB$",
    rf"{TS}max_total_num_tokens=\d+, chunked_prefill_size=-?\d+, max_prefill_tokens=\d+, "
    rf"max_running_requests=\d+, context_len=2048, available_cpu_mem={GB} GB$",
    rf"{TS}INFO:     Started server process \[\d+\]$",
    rf"{TS}INFO:     Waiting for application startup\.$",
    rf"{TS}INFO:     Application startup complete\.$",
    rf"{TS}INFO:     Uvicorn running on http://127\.0\.0\.1:\d+ \(Press CTRL\+C to quit\)$",
    rf'{TS}INFO:     127\.0\.0\.1:\d+ - "GET /get_model_info HTTP/1\.1" 200 OK$',
    rf"{TS}Prefill batch\. #new-seq: 1, #new-token: \d+, #cached-token: 0, token usage: "
    r"\d\.\d{2}, #running-req: 0, #queue-req: 0, $",
    rf'{TS}INFO:     127\.0\.0\.1:\d+ - "POST /generate HTTP/1\.1" 200 OK$',
    rf"{TS}The server is fired up and ready to roll!$",
]
PREFILL = re.compile(
    rf"{TS}Prefill batch\. #new-seq: \d+, #new-token: \d+, #cached-token: \d+, "
    r"token usage: \d\.\d{2}, #running-req: \d+, #queue-req: \d+, $"
)
DECODE = re.compile(
    rf"{TS}Decode batch\. #running-req: \d+, #token: \d+, token usage: \d\.\d{{2}}, "
    r"cuda graph: False, gen throughput \(token/s\): \d+\.\d{2}, #queue-req: \d+, $"
)


def _in_order(lines: list[str], patterns: list[str]) -> None:
    i = 0
    for pattern in patterns:
        while i < len(lines) and not re.match(pattern, lines[i]):
            i += 1
        assert i < len(lines), f"no line matching {pattern!r} in order:\n" + "\n".join(lines)
        i += 1


def test_startup_lines_match_sglang_in_order(tiny_engine):
    lines = tiny_engine.log_lines()
    _in_order(lines, STARTUP)
    ready = [parse_phase_line(line, "cpu") for line in lines]
    assert any(e is not None and e.phase is LaunchPhase.READY for e in ready)
    assert not any(e is not None and e.phase is LaunchPhase.FAILED for e in ready)


def test_gguf_startup_lines_name_the_quantisation_and_the_allocated_context(smollm2_engine):
    """On llama.cpp the same sequence; the weights are reported as the file's own type and
    the KV cache as the context llama.cpp allocated up front; llama.cpp's own chatter is not
    in the log."""
    gguf = [
        p.replace(r"dtype=torch\.float32", "dtype=Q4_1").replace("context_len=2048",
                                                                    "context_len=8192")
        for p in STARTUP
    ]
    lines = smollm2_engine.log_lines()
    _in_order(lines, gguf)
    kv = next(line for line in lines if "KV Cache is allocated" in line)
    assert "#tokens: 8192," in kv
    assert not any("llama_" in line or "ggml" in line or "load_tensors" in line for line in lines)


def test_batch_lines_match_sglang_formats(tiny_engine):
    start = len(tiny_engine.log_lines())
    body = {"text": "hello", "sampling_params": {"max_new_tokens": 45, "ignore_eos": True}}
    requests.post(tiny_engine.url + "/generate", json=body, timeout=120).raise_for_status()
    new = tiny_engine.log_lines()[start:]
    prefills = [line for line in new if "Prefill batch" in line]
    assert prefills and all(PREFILL.match(line) for line in prefills)
    decodes = [line for line in new if "Decode batch" in line]
    assert decodes and all(DECODE.match(line) for line in decodes)  # 45 tokens > 40 steps
    assert any(re.match(rf'{TS}INFO:     127\.0\.0\.1:\d+ - "POST /generate HTTP/1\.1" 200 OK$',
                        line) for line in new)


def test_log_level_warning_silences_info_lines(tiny_model_dir, tmp_path):
    with start_engine(str(tiny_model_dir), ["--log-level", "warning"], tmp_path) as engine:
        requests.post(engine.url + "/generate", timeout=60,
                      json={"text": "hi", "sampling_params": {"max_new_tokens": 2}})
        # Without --enable-metrics the route does not exist, as in SGLang.
        assert requests.get(engine.url + "/metrics", timeout=30).status_code == 404
        text = engine.log_text()
    for silent in ("server_args=", "Load weight", "Prefill batch", "fired up", "INFO:"):
        assert silent not in text, text


def test_access_lines_on_stdout_and_skip_server_warmup(tiny_model_dir, tmp_path):
    """uvicorn's access logger writes to stdout, everything else to stderr; with
    ``--skip-server-warmup`` the server is ready at once (no warm-up request)."""
    port = free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(
            engine_command(str(tiny_model_dir), port, ["--skip-server-warmup"]),
            stdout=fo, stderr=fe, start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while "fired up" not in err.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err.read_text()
            time.sleep(0.1)  # polling the log for readiness
        assert requests.get(url + "/health", timeout=60).status_code == 200
        requests.post(url + "/generate", timeout=60,
                      json={"text": "hi", "sampling_params": {"max_new_tokens": 2}})
    finally:
        stop_process(proc)
    stdout, stderr = out.read_text(), err.read_text()
    assert re.search(r'INFO:     127\.0\.0\.1:\d+ - "POST /generate HTTP/1\.1" 200 OK', stdout)
    assert '"POST /generate' not in stderr and "Prefill batch" not in stdout
    assert "GET /get_model_info" not in stdout  # no warm-up
    assert stderr.count("Prefill batch.") == 2  # the health probe and our request
    assert "The server is fired up and ready to roll!" in stderr
