"""ServerStats: points, versions, latest(), df(), from_log(), thread safety; SeriesWindow."""

from __future__ import annotations

import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest

from sgl_notebook.protocol.phases import LaunchPhase, parse_phase_line
from sgl_notebook.stats import PhaseRecord, ServerStats, from_log, parse_line
from sgl_notebook.stats.window import SeriesWindow, summary_line
from tests.protocol import recorded_lines as rec

LOG = [
    "[2025-07-28 04:59:40] Load weight begin. avail mem=78.50 GB",
    "[2025-07-28 04:59:50] The server is fired up and ready to roll!",
    rec.V0410_PREFILL,  # 6 new, 0 cached -> hit rate 0
    '[2025-07-28 04:59:51] INFO:     127.0.0.1:1 - "POST /generate HTTP/1.1" 200 OK',
    '[2025-07-28 04:59:51] INFO:     127.0.0.1:1 - "GET /health HTTP/1.1" 200 OK',
    "[2025-07-28 04:59:52] Prefill batch. #new-seq: 2, #new-token: 10, #cached-token: 30, "
    "token usage: 0.02, #running-req: 1, #queue-req: 2, ",
    rec.V0410_DECODE,
    '(APIServer pid=7) INFO:     127.0.0.1:2 - "POST /v1/chat/completions HTTP/1.1" 200 OK',
    "random noise",
]


def test_points_versions_and_derived_hit_rate() -> None:
    stats = ServerStats()
    for line in LOG:
        stats.feed(line)
    points = stats.points()
    assert [p.kind for p in points] == ["prefill", "access", "prefill", "decode", "access"]
    assert [p.version for p in points] == [1, 2, 3, 4, 5]
    assert points[0].cache_hit_rate == 0.0 and points[2].cache_hit_rate == 0.75
    assert points[3].cache_hit_rate is None  # decode lines carry no hit rate
    assert [p.requests for p in points if p.kind == "access"] == [1, 2]  # /health not counted
    # the untimed vLLM access line takes the last time the log showed
    assert points[4].time == datetime(2025, 7, 28, 4, 59, 52)
    assert [r.event.phase for r in stats.phases] == [LaunchPhase.LOADING_WEIGHTS, LaunchPhase.READY]


def test_since_latest_and_bounded_length() -> None:
    stats = ServerStats(maxlen=3)
    for line in LOG:
        stats.feed(line)
    assert len(stats) == 3 and stats.version == 5
    version, new = stats.since(0)  # older points were dropped: only the kept ones come back
    assert version == 5 and [p.version for p in new] == [3, 4, 5]
    assert stats.since(4)[1][0].version == 5
    assert stats.since(5) == (5, [])
    assert stats.since(99) == (5, [])
    latest = stats.latest()
    assert latest["gen_throughput"] == 5.96 and latest["running_req"] == 1
    assert latest["queue_req"] == 0 and latest["cache_hit_rate"] == 0.75
    assert latest["requests"] == 2 and latest["points"] == 3 and latest["ttft_p50"] is None
    with pytest.raises(ValueError, match="maxlen"):
        ServerStats(maxlen=0)


def test_df_has_a_time_index_and_one_column_per_field() -> None:
    stats = ServerStats()
    for line in LOG:
        stats.feed(line)
    frame = stats.df()
    assert list(frame.index.names) == ["time"] and len(frame) == 5
    assert frame["gen_throughput"].dropna().tolist() == [5.96]
    assert frame["running_req"].max() == 1 and frame["kind"].iloc[0] == "prefill"


def test_df_without_pandas_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError, match="pip install pandas"):
        ServerStats().df()


def test_from_log_equals_live_feed(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("\n".join(LOG) + "\n")
    live = ServerStats()
    for line in LOG:
        live.feed(line)
    assert from_log(path).points() == live.points()
    with pytest.raises(FileNotFoundError):
        from_log(tmp_path / "missing.log")


def test_concurrent_feeders_lose_no_points() -> None:
    stats = ServerStats()

    def feed() -> None:
        for _ in range(500):
            stats.feed(rec.V0410_DECODE)

    threads = [threading.Thread(target=feed) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.version == 2000 and [p.version for p in stats.points()] == list(range(1, 2001))


@pytest.mark.parametrize(
    "line",
    [
        "[2025-07-28 04:59:51] Load weight begin. avail mem=78.50 GB",
        "[2025-07-28 04:59:51.250 TP0] Scheduler hit an exception: Traceback (most recent call",
        "Loading safetensors checkpoint shards:  25% Completed | 1/4 [00:01<00:03,  1.02s/it]",
        "(APIServer pid=1) INFO 08-17 02:59:34 [api_server.py:1] Starting vLLM API server 0 on x",
        "[2025-07-28 04:59:51] KV Cache is allocated. #tokens: 1000, K size: 1.00 GB, V size: 1 GB",
    ],
)
def test_phase_records_match_the_phase_parser(line: str) -> None:
    dialect = "vllm" if "vLLM" in line else "sglang"
    record = parse_line(line, dialect)
    assert isinstance(record, PhaseRecord)
    assert record.event == parse_phase_line(line, dialect)


def test_series_window_reads_incrementally_and_trims() -> None:
    stats = ServerStats()
    window = SeriesWindow(["gen_throughput", "running_req"], seconds=10)
    assert window.read(stats) is False and window.newest() is None
    for second in range(40):
        stats.feed(
            f"[2025-07-28 05:00:{second:02d}] Decode batch. #running-req: {second}, #token: 1, "
            f"token usage: 0.00, cuda graph: False, gen throughput (token/s): 1.00, #queue-req: 0, "
        )
        window.read(stats)
    xs, ys = window.visible("running_req", window.newest() or 0.0)
    assert xs[-1] == 0.0 and xs[0] == -10.0 and ys[-1] == 39.0
    assert len(window.xs["running_req"]) <= 21  # trimmed to at most two windows
    assert window.has(["running_req"]) and not window.has(["ttft_p50"])
    assert summary_line("alpha", stats) == "alpha · 1.0 token/s · 39 running, 0 queued · KV 0%"
