"""The sidebar and a router: its workers nested (labextension/src/nesting.ts, run under node), the
server extension's record fields it reads (worker_ids, router_id), a log tail without colours."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sgl_notebook.jupyter_server.inventory import describe_server
from sgl_notebook.server.registry import ServerRecord

LABEXT = Path(__file__).resolve().parents[2] / "labextension"
TSC = LABEXT / "node_modules" / "typescript" / "bin" / "tsc"

SCRIPT = r"""
const n = require('./nesting.js');
const s = (id, extra) => Object.assign({id: id, name: id}, extra || {});
const rows = n.nestServers([
  s('w1', {router_id: 'r'}), s('solo'), s('r', {worker_ids: ['w1', 'w2', 'gone']}),
  s('w2', {router_id: 'r'}), s('orphan', {router_id: 'nobody'}),
]);
console.log(JSON.stringify(rows.map(r => [r.info.id, r.depth])));
"""


@pytest.mark.skipif(shutil.which("node") is None or not TSC.exists(),
                    reason="needs node and labextension/node_modules")
def test_workers_are_listed_right_under_their_router(tmp_path: Path) -> None:
    subprocess.run(
        ["node", str(TSC), "--module", "commonjs", "--target", "ES2020", "--strict",
         "--outDir", str(tmp_path), str(LABEXT / "src" / "nesting.ts")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (tmp_path / "run.js").write_text(SCRIPT)
    done = subprocess.run(["node", "run.js"], cwd=tmp_path, check=True, capture_output=True,
                          text=True, timeout=60)
    assert json.loads(done.stdout) == [
        ["solo", 0], ["r", 0], ["w1", 1], ["w2", 1], ["orphan", 0],
    ]


def test_the_server_extension_sends_the_links() -> None:
    router = ServerRecord(
        id="r", name="grp", engine="router", model="m", url="http://127.0.0.1:3",
        host="127.0.0.1", port=3, pid=10, pgid=10, create_time=1.0, started_at=100.0,
        log_path=None, owner_pid=9, owner_kernel_id="k", api_key=None, managed=True,
        worker_ids=("a", "b"), metrics_port=29001,
    )
    info = describe_server(router, alive=True, owner_alive=True, now=160.0, stats={})
    assert info["worker_ids"] == ["a", "b"] and info["router_id"] is None
    json.dumps(info)  # the reply is JSON


def test_the_sidebar_log_tail_has_no_colour_codes(tmp_path: Path) -> None:
    from sgl_notebook.jupyter_server.log_tail import tail_lines

    sample = Path(__file__).parents[1] / "stats" / "data" / "router_0.3.2.log"
    lines = tail_lines(str(sample), 5)
    assert len(lines) == 5 and not any("\x1b" in line for line in lines)
    assert lines[-2].endswith("Received terminate signal, starting graceful shutdown")
