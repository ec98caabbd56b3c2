"""The dashboard under a real kernel: nbclient runs a notebook that feeds two servers' stats."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from sgl_notebook.display.dashboard import METRICS_PANELS, PANELS

REPO = Path(__file__).resolve().parents[2]  # the kernel imports the log formatter from tests/
SETUP = f"import sys\nsys.path.insert(0, {str(REPO)!r})\n" + '''
import json, threading, time
from datetime import datetime
from sgl_notebook.display.dashboard import dashboard
from tests.protocol.log_formats import format_access_line, format_sglang_batch_line
from sgl_notebook.stats import SchedulerStats, ServerStats

class FakeServer:
    """Anything with stats, name, url, api_key and is_alive() can be plotted."""
    def __init__(self, name):
        self.name, self.url, self.api_key = name, None, None
        self.stats, self.alive = ServerStats(), True
    def is_alive(self):
        return self.alive

def load(server, until, running, step=0.05):
    """Log lines as a busy SGLang 0.4.10 server writes them, stamped with the current time,
    until ``until()`` says enough (at most a minute)."""
    end, i = time.monotonic() + 60, 0
    while not until() and time.monotonic() < end:
        i += 1
        now = datetime.now().replace(microsecond=0)
        server.stats.feed(format_sglang_batch_line(SchedulerStats(
            kind="decode", timestamp=now, running_req=running, queue_req=i % 3, num_token=100 + i,
            token_usage=(i % 80) / 100, gen_throughput=40.0 + i % 10), "sglang-0.4.10"))
        server.stats.feed(format_sglang_batch_line(SchedulerStats(
            kind="prefill", timestamp=now, new_seq=1, new_token=10, cached_token=i % 11,
            token_usage=0.1, running_req=running, queue_req=0), "sglang-0.4.10"))
        server.stats.feed(format_access_line("POST", "/generate", 200, now))
        time.sleep(step)

servers = [FakeServer("alpha"), FakeServer("beta")]
'''
SHOW = "dash = dashboard(*servers)"
LOAD = """
enough = lambda: dash.frames >= 4  # three frames drawn under load after the first
threads = [threading.Thread(target=load, args=(s, enough, n + 2)) for n, s in enumerate(servers)]
for t in threads: t.start()
for t in threads: t.join()
"""
STOP = """
for s in servers:
    s.alive = False
stopped = dash.wait(20)
print(json.dumps({"stopped": stopped, "running": dash.running, "frames": dash.frames,
                  "published_at": dash.published_at, "error": repr(dash.error),
                  "requests": [s.stats.latest()["requests"] for s in servers]}))
"""
BAD = """
errors = []
for call in (lambda: dashboard(), lambda: dashboard(object()),
             lambda: dashboard(servers[0], interval=0.1), lambda: dashboard(servers[0], window=0)):
    try:
        call()
    except (TypeError, ValueError) as error:
        errors.append(f"{type(error).__name__}: {error}")
print(json.dumps(errors))
"""


def _run(tmp_path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in (SETUP, SHOW, LOAD, STOP, BAD)]
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    path = tmp_path / "dashboard.ipynb"
    nbformat.write(notebook, path)
    return nbformat.read(path, as_version=4)  # what a saved notebook keeps


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    return _run(tmp_path_factory.mktemp("dashboard-notebook"))


def _stdout_json(cell: nbformat.NotebookNode) -> object:
    text = "".join(o["text"] for o in cell.outputs if o.get("name") == "stdout")
    return json.loads(text)


def test_saved_notebook_keeps_the_final_frame_as_png(saved: nbformat.NotebookNode) -> None:
    report = _stdout_json(saved.cells[3])
    assert isinstance(report, dict)
    assert report["stopped"] is True and report["running"] is False, report
    assert report["error"] == "None"
    outputs = saved.cells[1].outputs
    assert len(outputs) == 1 and outputs[0]["output_type"] == "display_data"
    image_meta = outputs[0]["metadata"]
    # The image kept is the last frame drawn, pushed there by update_display while later cells ran.
    assert image_meta["sgl_notebook"]["frame"] == report["frames"]
    assert image_meta["sgl_notebook"]["panels"] == [p[0] for p in PANELS]
    assert image_meta["sgl_notebook"]["servers"] == ["alpha", "beta"]
    png = base64.b64decode(outputs[0]["data"]["image/png"])
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG"
    size = (image_meta["image/png"]["width"], image_meta["image/png"]["height"])
    assert image.size == size and size[0] > 400
    assert "alpha" in outputs[0]["data"]["text/plain"]
    assert report["requests"][0] > 10


def test_updates_while_loading_at_most_once_a_second(saved: nbformat.NotebookNode) -> None:
    report = _stdout_json(saved.cells[3])
    assert isinstance(report, dict)
    times = report["published_at"]
    assert report["frames"] >= 3, "the image was redrawn while the load ran"
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # the final frame after the servers stop may follow sooner; the live ones may not
    assert all(gap >= 0.99 for gap in gaps[:-1]), gaps


def test_bad_arguments_raise_clear_errors_and_kernel_lives(saved: nbformat.NotebookNode) -> None:
    errors = _stdout_json(saved.cells[4])
    assert isinstance(errors, list) and len(errors) == 4
    assert errors[0].startswith("ValueError: dashboard() needs at least one server")
    assert errors[1].startswith("TypeError:") and ".stats" in errors[1]
    assert "at least 1" in errors[2] and "window" in errors[3]


REAL_SETUP = """
import json
from concurrent.futures import ThreadPoolExecutor
import httpx
import sgl_notebook
server = sgl_notebook.launch({model!r}, engine="cpu", enable_metrics=True, decode_log_interval=4)
"""
REAL_SHOW = "from sgl_notebook.display.dashboard import dashboard\nboard = dashboard(server)"
REAL_LOAD = """
def ask(i):
    params = {{"max_new_tokens": 48, "ignore_eos": True}}
    body = {{"text": f"question {{i}}", "sampling_params": params}}
    httpx.post(server.url + "/generate", json=body, timeout=120).raise_for_status()
for wave in range(3):
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(ask, range(6)))
"""
REAL_STOP = """
server.stop()
print(json.dumps({{"stopped": board.wait(30), "frames": board.frames, "error": repr(board.error),
                  "panels": board.last_metadata["sgl_notebook"]["panels"]}}))
"""


def test_real_server_dashboard_in_a_kernel(tiny_model_dir: Path, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cells = (REAL_SETUP, REAL_SHOW, REAL_LOAD, REAL_STOP)
    notebook.cells = [
        nbformat.v4.new_code_cell(src.format(model=str(tiny_model_dir))) for src in cells
    ]
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    report = _stdout_json(notebook.cells[3])
    assert isinstance(report, dict)
    assert report["stopped"] is True and report["error"] == "None", report
    assert report["frames"] >= 2
    # the engine serves /metrics, so the latency panels joined the four log panels
    assert report["panels"] == [p[0] for p in PANELS + METRICS_PANELS]
    output = notebook.cells[1].outputs[0]
    assert output["metadata"]["sgl_notebook"]["frame"] == report["frames"]
    assert base64.b64decode(output["data"]["image/png"]).startswith(b"\x89PNG")
