"""A router group in a real kernel (jupyter_client): the launch view is a live widget with a row
per member, ``%sgl stats`` shows the workers' dashboard and the router panel, and the panel
follows the requests the router spreads."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from sgl_notebook.server.registry import find_record
from tests.magics.kernel_session import KernelSession
from tests.server.conftest import fake_env, fake_python  # noqa: F401 -- fixtures


@pytest.fixture
def kernel() -> Iterator[KernelSession]:
    session = KernelSession()
    try:
        yield session
    finally:
        session.close()


def test_group_launch_view_stats_panel_and_stop_in_a_kernel(
    kernel: KernelSession, fake_python: str  # noqa: F811 -- the fixture imported above
) -> None:
    kernel.ok("%load_ext sgl_notebook")
    launch = kernel.ok(f"%sgl launch org/ok --engine sglang --python {fake_python} --replicas 2 "
                       "--router-policy round_robin --name kgrp", timeout=180)
    redraws = [m["content"]["data"]["state"]["value"] for m in launch.widget_updates()]
    assert any("kgrp-w1" in html and "kgrp-w2" in html and "router" in html for html in redraws)
    final = launch.outputs(("update_display_data",))[-1]["data"]["text/plain"]
    assert "kgrp" in final and "ready" in final.lower()

    stats = kernel.ok("%sgl stats")
    images = [o for o in stats.outputs(("display_data",)) if "image/png" in o["data"]]
    texts = [o["data"]["text/plain"] for o in images]
    assert len(images) == 2 and any(t.startswith("requests per worker: kgrp-w1 0") for t in texts)

    kernel.ok("import httpx, sgl_notebook as sn\n"
              "group = [s for s in sn.servers() if s.name == 'kgrp'][0]\n"
              "for _ in range(4):\n"
              "    httpx.post(group.url + '/generate', json={'text': 'hi'}, timeout=30)")
    deadline, meta = time.monotonic() + 20, {}
    while time.monotonic() < deadline:
        out = kernel.ok(
            "import json\n"
            "board = get_ipython().magics_manager.registry['SglMagics'].last_dashboard\n"
            "print(json.dumps(board.panel.last_metadata['sgl_notebook']))"
        ).stdout()
        meta = json.loads(out)
        if meta["requests"] == [2.0, 2.0]:
            break
        time.sleep(0.5)
    assert meta["workers"] == ["kgrp-w1", "kgrp-w2"] and meta["requests"] == [2.0, 2.0]
    assert meta["healthy"] == [True, True]

    kernel.ok("%sgl stop kgrp")
    assert find_record("kgrp") is None and find_record("kgrp-w1") is None
