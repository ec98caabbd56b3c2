"""A scripted stand-in for ``python -m sglang.launch_server`` and ``vllm serve``.

It replays SGLang 0.4.10 / vLLM startup logs (texts from reference/SGLANG_PROTOCOL.md §1.4, §1.5,
§7) on the same streams the real servers use, binds the port for real, forks a "scheduler" child
(so process trees have grandchildren), and serves ``/health``, ``/health_generate``,
``/get_model_info``, ``/v1/models`` and ``/generate`` (503 on health until warm-up is done).

The scenario is the model path's last part: ``ok``, ``oom``, ``missing-model``,
``scheduler-died``, ``missing-package``, ``hang``, ``slow`` (ok, with slow weight loading).

    standin_server.py --dialect sglang|vllm <server argv...>
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STEP_S = float(os.environ.get("STANDIN_STEP_S", "0.01"))


def ts() -> str:
    return datetime.now().strftime("[%Y-%m-%d %H:%M:%S] ")


def err(line: str, prefix: bool = True) -> None:
    sys.stderr.write((ts() if prefix else "") + line + "\n")
    sys.stderr.flush()
    time.sleep(STEP_S)


def vlog(line: str, proc: str = "APIServer") -> None:
    now = datetime.now().strftime("%m-%d %H:%M:%S")
    sys.stdout.write(f"({proc} pid={os.getpid()}) INFO {now} [standin.py:1] {line}\n")
    sys.stdout.flush()
    time.sleep(STEP_S)


class State:
    ready = False
    api_key: str | None = None
    model = ""
    dialect = "sglang"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # uvicorn-style access line
        host, port = self.client_address[:2]
        line = f'INFO:     {host}:{port} - "{self.requestline}" {args[1]} OK'
        if State.dialect == "vllm":
            line = f"(APIServer pid={os.getpid()}) " + line
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if State.api_key is None or self.path.startswith(("/health", "/metrics")):
            return True
        if self.headers.get("Authorization") == f"Bearer {State.api_key}":
            return True
        self._send(401, {"error": "Unauthorized"})
        return False

    def do_GET(self) -> None:  # noqa: N802
        if self.path in ("/health", "/health_generate"):
            self._send(200 if State.ready else 503, None)
        elif not self._authorised():
            return
        elif self.path == "/get_model_info":
            self._send(200, {"model_path": State.model, "tokenizer_path": State.model,
                             "is_generation": True})
        elif self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": State.model, "object": "model"}]})
        else:
            self._send(404, {"detail": "Not Found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self._authorised():
            return
        if self.path == "/generate":
            self._send(200, {"text": " Paris", "meta_info": {"prompt_tokens": 6,
                             "completion_tokens": 1, "finish_reason": {"type": "length"}}})
        elif self.path == "/v1/chat/completions":
            content = body["messages"][-1]["content"]
            self._send(200, {"id": "x", "object": "chat.completion", "model": State.model,
                             "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                 "role": "assistant", "content": f"echo: {content}"}}],
                             "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
        else:
            self._send(404, {"detail": "Not Found"})


def spawn_scheduler() -> subprocess.Popen[bytes]:
    """A child that outlives nothing on its own: it must be ended with the tree."""
    return subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])


def bind(host: str, port: int) -> ThreadingHTTPServer | None:
    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as error:
        if State.dialect == "vllm":
            sys.stdout.write(f"ERROR: [Errno 98] error while attempting to bind on address "
                             f"('{host}', {port}): address already in use\n")
        else:
            err(f"ERROR:    [Errno {error.errno}] error while attempting to bind on address "
                f"('{host}', {port}): address already in use")
        sys.stdout.flush()
        return None


def sglang_main(args: argparse.Namespace, scenario: str) -> int:
    if scenario == "missing-model":
        err("Traceback (most recent call last):", prefix=False)
        err('  File "sglang/srt/server_args.py", line 200, in __post_init__', prefix=False)
        err(f"OSError: {args.model_path} is not a local folder and is not a valid model identifier "
            "listed on 'https://huggingface.co/models'", prefix=False)
        return 1
    if scenario == "missing-package":
        err("Traceback (most recent call last):", prefix=False)
        err("ModuleNotFoundError: No module named 'sgl_kernel'", prefix=False)
        return 1
    err(f"server_args=ServerArgs(model_path='{args.model_path}', host='{args.host}', "
        f"port={args.port})")
    scheduler = spawn_scheduler()
    err("Init torch distributed begin.")
    err("Init torch distributed ends. mem usage=0.00 GB")
    err("Load weight begin. avail mem=78.50 GB")
    if scenario == "hang":
        while True:
            time.sleep(1)
    for i in range(1, 5):
        err(f"Loading safetensors checkpoint shards:  {25 * i}% Completed | {i}/4 "
            "[00:01<00:03,  1.02s/it]", prefix=False)
        if scenario == "slow":
            time.sleep(0.3)
    err("Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=63.49 GB, "
        "mem usage=15.01 GB.")
    if scenario == "oom":
        sys.stderr.write(ts()[:-2] + " TP0] Scheduler hit an exception: "
                         "Traceback (most recent call last):\n")
        err('  File "sglang/srt/mem_cache/memory_pool.py", line 1, in __init__', prefix=False)
        err("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a "
            "total capacity of 79.10 GiB", prefix=False)
        err("Received sigquit from a child process. It usually means the child failed.")
        scheduler.kill()
        os.kill(os.getpid(), signal.SIGKILL)
    if scenario == "scheduler-died":
        scheduler.kill()
        err("Rank 0 scheduler is dead. Please check if there are relevant logs.")
        err("Exit code: -9")
        return 1
    err("KV Cache is allocated. #tokens: 1000, K size: 1.00 GB, V size: 1.00 GB")
    err("Memory pool end. avail mem=10.00 GB")
    err("Capture cuda graph begin. This can take up to several minutes. avail mem=10.00 GB")
    err("Capture cuda graph end. Time elapsed: 1.00 s. mem usage=0.50 GB. avail mem=9.50 GB.")
    err("max_total_num_tokens=1000, chunked_prefill_size=8192, max_prefill_tokens=16384, "
        "max_running_requests=4096, context_len=8192, available_gpu_mem=9.50 GB")
    httpd = bind(args.host, args.port)
    if httpd is None:
        scheduler.kill()
        return 1
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    err(f"INFO:     Started server process [{os.getpid()}]")
    err("INFO:     Waiting for application startup.")
    err("INFO:     Application startup complete.")
    err(f"INFO:     Uvicorn running on http://{args.host}:{args.port} (Press CTRL+C to quit)")
    err("Prefill batch. #new-seq: 1, #new-token: 7, #cached-token: 0, token usage: 0.00, "
        "#running-req: 0, #queue-req: 0, ")
    State.ready = True
    err("The server is fired up and ready to roll!")
    scheduler.wait()
    return 0


def vllm_main(args: argparse.Namespace, scenario: str) -> int:
    vlog(f"vLLM API server version 0.10.1; model {args.model_path}")
    scheduler = spawn_scheduler()
    vlog("Initializing a V1 LLM engine (v0.10.1) with config: model=...", "EngineCore_0")
    vlog(f"Starting to load model {args.model_path}...", "EngineCore_0")
    if scenario == "oom":
        vlog("Loading weights took 1.00 seconds", "EngineCore_0")
        sys.stdout.write("ERROR 08-17 02:59:34 [core.py:700] EngineCore failed to start.\n")
        sys.stdout.write("ValueError: No available memory for the cache blocks. Try increasing "
                         "`gpu_memory_utilization` when initializing the engine.\n")
        sys.stdout.flush()
        scheduler.kill()
        return 1
    vlog("Loading weights took 1.00 seconds", "EngineCore_0")
    vlog("Model loading took 0.25 GiB and 1.2 seconds", "EngineCore_0")
    vlog("Available KV cache memory: 60.00 GiB", "EngineCore_0")
    vlog("GPU KV cache size: 1,000,000 tokens", "EngineCore_0")
    vlog("Graph capturing finished in 5 secs, took 0.30 GiB", "EngineCore_0")
    vlog("init engine (profile, create kv cache, warmup model) took 20.00 seconds", "EngineCore_0")
    httpd = bind(args.host, args.port)
    if httpd is None:
        scheduler.kill()
        return 1
    vlog(f"Starting vLLM API server 0 on http://{args.host}:{args.port}")
    State.ready = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    tag = f"(APIServer pid={os.getpid()}) INFO:     "
    sys.stdout.write(f"{tag}Started server process [{os.getpid()}]\n")
    sys.stdout.write(f"{tag}Application startup complete.\n")
    sys.stdout.flush()
    scheduler.wait()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dialect", default="sglang")
    parser.add_argument("model", nargs="?")  # vllm serve MODEL
    parser.add_argument("--model-path", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=30000)
    parser.add_argument("--api-key", default=None)
    args, _unknown = parser.parse_known_args(argv)
    args.model_path = args.model_path or args.model or "ok"
    State.dialect, State.api_key, State.model = args.dialect, args.api_key, args.model_path
    scenario = args.model_path.rstrip("/").split("/")[-1]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.dialect == "vllm":
        return vllm_main(args, scenario)
    return sglang_main(args, scenario)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
