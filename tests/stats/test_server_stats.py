"""Through the real launcher: its log pump feeds ``server.stats``, and the saved log agrees."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

import sgl_notebook
from sgl_notebook.display.dashboard import Dashboard
from sgl_notebook.stats import from_log


@pytest.fixture(scope="module")
def server(tiny_model_dir: Path) -> Iterator[object]:
    launched = sgl_notebook.launch(
        str(tiny_model_dir), engine="cpu", enable_metrics=True, decode_log_interval=4
    )
    try:
        yield launched
    finally:
        launched.stop()


def test_launched_server_stats_and_saved_log(server: object) -> None:
    url = server.url  # type: ignore[attr-defined]
    body = {"sampling_params": {"max_new_tokens": 32, "temperature": 0, "ignore_eos": True}}
    with ThreadPoolExecutor(6) as pool:
        list(
            pool.map(
                lambda i: httpx.post(
                    url + "/generate", json={"text": f"prompt number {i}", **body}, timeout=120
                ).raise_for_status(),
                range(6),
            )
        )
    stats = server.stats  # type: ignore[attr-defined]
    board = Dashboard([server])  # type: ignore[list-item]
    board.scrape()
    board.render()
    board.stop()
    assert board.last_metadata["sgl_notebook"]["servers"] == [server.name]  # type: ignore[attr-defined]
    # the launcher keeps the log only while the server runs: read it now
    saved = [asdict(p) for p in from_log(server.log_path).points()]  # type: ignore[attr-defined]
    live = [asdict(p) for p in stats.points() if p.kind != "metrics"]
    server.stop()  # type: ignore[attr-defined]
    assert not server.is_alive()  # type: ignore[attr-defined]
    # the pump may be a line ahead of the file (or behind): compare what both have
    common = min(len(saved), len(live))
    assert common >= 10 and saved[:common] == live[:common]
    decode = [p for p in stats.points() if p.kind == "decode"]
    assert decode and max(p.running_req or 0 for p in decode) > 1
    assert stats.latest()["requests"] >= 7  # six requests and the warm-up
    assert [r.event.phase.value for r in stats.phases][-1] == "ready"
