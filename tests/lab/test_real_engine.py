"""The REST API over a real CPU engine launched with ``sgl_notebook.launch`` (tiny model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import sgl_notebook
from sgl_notebook.server.registry import list_records


@pytest.fixture
def real_engine(tiny_model_dir: Path) -> Iterator[Any]:
    server = sgl_notebook.launch(
        str(tiny_model_dir),
        engine="cpu",
        name="real-tiny",
        api_key="sk-real-engine-key-0042",
        extra_args=["--decode-log-interval", "4"],
    )
    try:
        yield server
    finally:
        server.stop()


async def test_a_real_engine_is_listed_with_stats_logs_and_stopped(
    jp_fetch: Any, real_engine: Any
) -> None:
    root = psutil.Process(real_engine.pid)
    processes = [root, *root.children(recursive=True)]
    # scheduler lines appear once the engine decodes
    real_engine.generate("Hello there", max_new_tokens=48, temperature=1.0, ignore_eos=True)

    response = await jp_fetch("sgl-notebook", "api", "servers")
    assert "sk-real-engine-key-0042" not in response.body.decode()
    (info,) = json.loads(response.body)["servers"]
    assert (info["name"], info["engine"], info["alive"]) == ("real-tiny", "cpu", True)
    assert info["url"] == real_engine.url
    # the request finished: the load report says idle now; the sparkline keeps the decode rate
    assert info["stats"]["gen_throughput"] == 0 and info["stats"]["running_req"] == 0
    assert info["stats"]["history"] and max(v for _, v in info["stats"]["history"]) > 0

    logs = json.loads(
        (
            await jp_fetch("sgl-notebook", "api", "servers", info["id"], "logs", params={"n": 200})
        ).body
    )
    assert any("Decode batch." in line for line in logs["lines"])
    assert "sk-real-engine-key-0042" not in json.dumps(logs)

    stop = await jp_fetch(
        "sgl-notebook", "api", "servers", info["id"], "stop", method="POST", body=b""
    )
    assert json.loads(stop.body)["stopped"] is True
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert list_records() == []
