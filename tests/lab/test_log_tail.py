"""tail_lines and LogStatsFollower on real files: last lines, redaction, incremental reads."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from sgl_notebook.jupyter_server import log_tail
from sgl_notebook.jupyter_server.log_tail import LogStatsFollower, tail_lines
from sgl_notebook.protocol.sglang_format import (
    format_decode_batch,
    format_log_prefix,
    format_prefill_batch,
)

NOON = datetime(2026, 1, 2, 12, 0, 0)


def decode_line(throughput: float, when: datetime = NOON, queue: int = 0) -> str:
    return format_log_prefix(when) + format_decode_batch(
        running_req=2, num_token=100, token_usage=0.25, gen_throughput=throughput, queue_req=queue
    )


def prefill_line(new: int, cached: int) -> str:
    return format_log_prefix(NOON) + format_prefill_batch(
        new_seq=1, new_token=new, cached_token=cached, token_usage=0.1, running_req=1, queue_req=3
    )


def test_tail_lines_returns_the_last_n_lines_across_blocks(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i} " + "x" * 100 + "\n" for i in range(2000)))
    tail = tail_lines(str(log), 300)
    assert len(tail) == 300
    assert tail[0].startswith("line 1700 ") and tail[-1].startswith("line 1999 ")
    assert tail_lines(str(log), 5000)[0].startswith("line 0 ")


def test_tail_lines_keeps_an_unfinished_last_line_and_redacts(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("api_key='sk-123'\nloading\nhalf a li")
    assert tail_lines(str(log), 2, redact="sk-123") == ["loading", "half a li"]
    assert tail_lines(str(log), 9, redact="sk-123")[0] == "api_key='***'"


def test_tail_lines_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert tail_lines(str(tmp_path / "nope.log"), 10) == []
    assert tail_lines(str(tmp_path), 10) == []  # a directory


def test_follower_reads_only_what_was_appended(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(prefill_line(30, 10) + "\n" + decode_line(12.5) + "\n")
    follower = LogStatsFollower(str(log))
    now = NOON.timestamp() + 1
    first = follower.poll(now)
    assert first["gen_throughput"] == 12.5
    assert first["running_req"] == 2 and first["queue_req"] == 0
    assert first["token_usage"] == 0.25
    assert first["cache_hit_rate"] == pytest.approx(0.25)
    size = log.stat().st_size
    assert follower.bytes_read == size

    with log.open("a") as handle:
        handle.write(decode_line(20.0, queue=4) + "\n")
    second = follower.poll(now)
    assert second["gen_throughput"] == 20.0 and second["queue_req"] == 4
    assert [v for _, v in second["history"]] == [12.5, 20.0]
    assert follower.bytes_read == log.stat().st_size  # each byte parsed once
    assert follower.poll(now)["history"] == second["history"]  # nothing new: nothing changes


def test_follower_waits_for_the_end_of_a_half_written_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    line = decode_line(33.0)
    log.write_text(line[:30])
    follower = LogStatsFollower(str(log))
    assert follower.poll(NOON.timestamp())["gen_throughput"] is None
    with log.open("a") as handle:
        handle.write(line[30:] + "\n")
    assert follower.poll(NOON.timestamp())["gen_throughput"] == 33.0


def test_follower_starts_over_when_the_log_is_replaced(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(decode_line(50.0) + "\n" * 3)
    follower = LogStatsFollower(str(log))
    follower.poll(NOON.timestamp())
    log.write_text(decode_line(7.0) + "\n")  # truncated and rewritten
    assert follower.poll(NOON.timestamp())["gen_throughput"] == 7.0


def test_follower_reads_only_the_end_of_a_long_old_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_tail, "FIRST_READ_BYTES", 4096)
    log = tmp_path / "server.log"
    lines = [decode_line(float(i)) for i in range(1, 500)]
    log.write_text("\n".join(lines) + "\n")
    follower = LogStatsFollower(str(log))
    snap = follower.poll(NOON.timestamp())
    assert follower.bytes_read <= 4096
    assert snap["gen_throughput"] == 499.0
    assert len(snap["history"]) <= log_tail.HISTORY_POINTS


def test_an_idle_server_reports_zero_throughput(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(decode_line(40.0) + "\n")
    follower = LogStatsFollower(str(log))
    assert follower.poll(NOON.timestamp() + 1)["gen_throughput"] == 40.0
    later = NOON.timestamp() + log_tail.IDLE_AFTER_S + 5
    idle = follower.poll(later)
    assert (idle["gen_throughput"], idle["running_req"], idle["queue_req"]) == (0, 0, 0)
    assert idle["token_usage"] == 0.25  # still what the last line said
    assert [v for _, v in idle["history"]] == [40.0]


def test_follower_of_a_missing_log_has_no_stats(tmp_path: Path) -> None:
    follower = LogStatsFollower(str(tmp_path / "never-written.log"))
    snap = follower.poll()
    assert snap["gen_throughput"] is None and snap["history"] == []
