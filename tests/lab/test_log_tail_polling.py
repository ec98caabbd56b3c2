"""The sidebar's log tail without the toolkit's own polling (issue 12): the REST reply leaves out
``GET /metrics``, ``/health``, load-report and info access lines and counts them; every other
line (a POST, an error, a GET someone else made to another path) stays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sgl_notebook.jupyter_server.log_tail import is_polling_line, tail_without_polling
from sgl_notebook.server.registry import ServerRecord, remove_record, write_record
from tests.lab.conftest import FakeServer

PREFIX = "[2025-07-28 04:59:51] "


def _access(method: str, path: str, status: int = 200) -> str:
    return f'{PREFIX}INFO:     127.0.0.1:51234 - "{method} {path} HTTP/1.1" {status} OK'


POLLING = [
    _access("GET", "/metrics"),
    _access("GET", "/health"),
    _access("GET", "/health_generate"),
    _access("GET", "/get_load"),
    _access("GET", "/v1/loads?include=all"),
    _access("GET", "/get_server_info"),
    '(APIServer pid=1) INFO:     127.0.0.1:33490 - "GET /metrics HTTP/1.1" 200 OK',  # vLLM
]
KEPT = [
    _access("POST", "/v1/chat/completions"),
    _access("POST", "/generate", 400),
    _access("GET", "/v1/models"),
    PREFIX + "Prefill batch. #new-seq: 1, #new-token: 6, #cached-token: 0, ",
]


def test_polling_lines_are_recognised_and_nothing_else():
    assert all(is_polling_line(line) for line in POLLING)
    assert not any(is_polling_line(line) for line in KEPT)


def test_tail_skips_polling_and_counts_it(tmp_path: Path):
    log = tmp_path / "server.log"
    lines = []
    for i in range(30):
        lines.append(KEPT[i % 4] + f" #{i}")
        lines.extend(POLLING)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    kept, hidden = tail_without_polling(str(log), 10)
    assert len(kept) == 10 and not any(is_polling_line(line) for line in kept)
    assert kept[-1].endswith("#29")  # the newest lines, in order
    assert hidden == 30 * len(POLLING)
    assert tail_without_polling(str(tmp_path / "missing.log"), 5) == ([], 0)


async def test_rest_reply_hides_polling_unless_asked(
    jp_fetch: Any, fake_server: FakeServer, tmp_path: Path
) -> None:
    log = tmp_path / "polled.log"
    log.write_text(
        "\n".join([KEPT[0], *POLLING, KEPT[1], *POLLING]) + "\n", encoding="utf-8"
    )
    record = ServerRecord(**{**fake_server.record.to_json(), "id": "polled0001", "name": "p",
                             "log_path": str(log)})
    write_record(record)
    try:
        response = await jp_fetch("sgl-notebook", "api", "servers", "polled0001", "logs")
        reply = json.loads(response.body)
        assert reply["lines"] == [KEPT[0], KEPT[1]]
        assert reply["hidden_polling"] == 2 * len(POLLING)
        response = await jp_fetch(
            "sgl-notebook", "api", "servers", "polled0001", "logs", params={"polling": "show"}
        )
        everything = json.loads(response.body)
        assert len(everything["lines"]) == 2 + 2 * len(POLLING)
        assert everything["hidden_polling"] == 0
    finally:
        remove_record("polled0001")
