"""How long after a server is ready does the notebook get control back?

Side by side in one run, on the same CPU-engine server (the tiny test model, so a launch takes
seconds):

* ``sgl_notebook.launch``: time from the server's ready line arriving on its log pipe to
  ``launch()`` returning (it waits on the ready line / ``/health_generate`` every 0.2 s).
* ``sglang.utils.wait_for_server``: the same server started by hand; time from the ready line to
  ``wait_for_server()`` returning (it polls ``/v1/models`` once a second, then sleeps 5 s).

Prints the median of each and the ratio. Run: ``.venv/bin/python benchmarks/bench_launch.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

READY_LINE = "The server is fired up and ready to roll!"


def build_model(folder: Path) -> Path:
    from tests.fixtures.tiny_model import build_tiny_model

    return build_tiny_model(folder)


def time_toolkit(model: Path) -> float:
    """Seconds from the ready line reaching us to ``launch()`` returning."""
    import sgl_notebook as sn
    from sgl_notebook.protocol.phases import LaunchPhase

    ready_at: list[float] = []

    def on_phase(event: object) -> None:
        if getattr(event, "phase", None) is LaunchPhase.READY and not ready_at:
            ready_at.append(time.perf_counter())

    server = sn.launch(str(model), engine="cpu", on_phase=on_phase)
    returned = time.perf_counter()
    try:
        ready_line_seen = any(READY_LINE in line for line in server.logs(500))
        assert ready_line_seen and ready_at, "the ready line was not seen"
        return returned - ready_at[0]
    finally:
        server.stop()


def time_wait_for_server(model: Path) -> float:
    """Seconds from the ready line to ``sglang.utils.wait_for_server`` returning (same server)."""
    from sglang.utils import wait_for_server

    from sgl_notebook.server.ports import find_free_port
    from sgl_notebook.server.proctree import terminate_tree

    port = find_free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sgl_notebook.engine", "--model-path", str(model),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    ready_at: list[float] = []

    def watch() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if READY_LINE in line and not ready_at:
                ready_at.append(time.perf_counter())

    threading.Thread(target=watch, daemon=True).start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its NOTE banner
            wait_for_server(f"http://127.0.0.1:{port}", timeout=300)
        returned = time.perf_counter()
        deadline = time.monotonic() + 60
        while not ready_at and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ready_at, "the ready line never came"
        return returned - ready_at[0]  # negative would mean it returned before the server was ready
    finally:
        terminate_tree(process.pid, process.pid, timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        import os

        os.environ.setdefault("SGL_NOTEBOOK_REGISTRY_DIR", str(Path(tmp) / "registry"))
        model = build_model(Path(tmp) / "tiny-llama")
        ours, theirs = [], []
        for run in range(args.runs):
            ours.append(time_toolkit(model))
            theirs.append(time_wait_for_server(model))
            print(f"run {run + 1}: launch() {ours[-1] * 1000:.2f} ms after ready; "
                  f"wait_for_server {theirs[-1] * 1000:.0f} ms after ready", flush=True)
    ours_med, theirs_med = statistics.median(ours), statistics.median(theirs)
    print(f"median ready -> control back: sgl_notebook.launch {ours_med * 1000:.2f} ms, "
          f"sglang.utils.wait_for_server {theirs_med * 1000:.0f} ms")
    print(f"ratio (wait_for_server / launch): {theirs_med / max(ours_med, 1e-6):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
