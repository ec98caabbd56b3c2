"""Kernel CPU used by a live stats dashboard while a server is busy.

A real IPython kernel (jupyter_client) gets a stand-in server whose ``ServerStats`` is fed from a
thread at a busy SGLang server's log rate (a decode, a prefill and an access line every 50 ms).
The kernel's CPU time is measured side by side in one run: first with the feed alone, then with
the feed and a live ``dashboard()``; the difference is the dashboard's cost, as a share of one
core. The dashboard's one-off start (matplotlib import, first layout) is reported apart. The
stand-in also answers a load route (``GET /v1/loads``, from a small HTTP server in another
process), so the dashboard's "now" polling (at most 1/s while shown) is part of the cost.

    .venv/bin/python benchmarks/bench_dashboard.py [SECONDS_PER_PHASE]     # default 20
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import start_new_kernel

REPO = Path(__file__).resolve().parents[1]  # the kernel imports the log formatter from tests/
SETUP = f"import sys\nsys.path.insert(0, {str(REPO)!r})\n" + """
import threading, time
from datetime import datetime
from tests.protocol.log_formats import format_access_line, format_sglang_batch_line
from sgl_notebook.stats import SchedulerStats, ServerStats

class StandIn:
    def __init__(self):
        self.name, self.url, self.api_key, self.stats = "busy", None, None, ServerStats()
    def is_alive(self):
        return True

def feed(server, seconds, step=0.05):
    end, i = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        i += 1
        now = datetime.now().replace(microsecond=0)
        server.stats.feed(format_sglang_batch_line(SchedulerStats(
            kind="decode", timestamp=now, running_req=8 + i % 5, queue_req=i % 3,
            num_token=4000 + i, token_usage=(i % 90) / 100, gen_throughput=150.0 + i % 40,
            cuda_graph=False), "sglang-0.4.10"))
        server.stats.feed(format_sglang_batch_line(SchedulerStats(
            kind="prefill", timestamp=now, new_seq=1, new_token=30, cached_token=i % 200,
            token_usage=0.2, running_req=8, queue_req=0), "sglang-0.4.10"))
        server.stats.feed(format_access_line("POST", "/generate", 200, now))
        time.sleep(step)

server = StandIn()
"""

# A load route in another process: the kernel pays only for asking it.
LOAD_SERVER = """
import http.server, json
BODY = json.dumps({"loads": [{"num_running_reqs": 8, "num_waiting_reqs": 1,
    "num_used_tokens": 4000, "token_usage": 0.3, "gen_throughput": 150.0}]}).encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

SETUP_LOAD = f"""
import subprocess, sys
from sgl_notebook.stats.load import LoadProbe
load_server = subprocess.Popen([sys.executable, "-c", {LOAD_SERVER!r}],
                               stdout=subprocess.PIPE, text=True)
load_url = "http://127.0.0.1:" + load_server.stdout.readline().strip()
server.stats.watch_load(LoadProbe(load_url))
"""


def run(client: Any, code: str) -> str:
    """Execute ``code`` in the kernel; return what it printed."""
    printed: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream" and message["content"].get("name") == "stdout":
            printed.append(message["content"]["text"])

    reply = client.execute_interactive(code, timeout=120, output_hook=collect)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"kernel error: {reply['content']}")
    return "".join(printed)


def kernel_cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def phase(client: Any, process: psutil.Process, seconds: float) -> float:
    """Feed for ``seconds`` in a kernel thread; return the kernel's CPU share of one core."""
    run(client, f"feeder = threading.Thread(target=feed, args=(server, {seconds})); feeder.start()")
    cpu, wall = kernel_cpu(process), time.monotonic()
    run(client, "feeder.join()")
    return (kernel_cpu(process) - cpu) / (time.monotonic() - wall)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        process = psutil.Process(manager.provisioner.process.pid)  # type: ignore[union-attr]
        run(client, SETUP)
        run(client, SETUP_LOAD)
        baseline = phase(client, process, seconds)
        before = kernel_cpu(process)
        run(
            client, "from sgl_notebook.display.dashboard import dashboard; dash = dashboard(server)"
        )
        startup = kernel_cpu(process) - before
        live = phase(client, process, seconds)
        frames = json.loads(run(client, "import json; print(json.dumps(dash.frames))"))
        polls = json.loads(run(client, "print(json.dumps(server.stats.load_probe.polls))"))
        run(client, "dash.stop(); load_server.kill(); load_server.wait()")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(f"phase length: {seconds:.0f} s; feed: 60 log lines/s (decode, prefill, access)")
    print(f"kernel CPU, feed only          : {100 * baseline:5.1f}% of one core")
    print(f"kernel CPU, feed + dashboard   : {100 * live:5.1f}% of one core ({frames} frames, "
          f"{polls} load polls)")
    print(f"dashboard's share              : {100 * (live - baseline):5.1f}% of one core")
    print(f"dashboard start (one-off)      : {startup:5.2f} CPU seconds")


if __name__ == "__main__":
    main()
