"""A server's live stats: a bounded, thread-safe series built from its log lines.

The launcher's log pump calls :meth:`ServerStats.feed` for every line; the dashboard and the
JupyterLab sidebar read :meth:`ServerStats.latest`, :meth:`ServerStats.since` and
:meth:`ServerStats.df`. Points carry the server's own timestamps, so the same log read later with
:func:`from_log` gives the same series.

>>> stats = ServerStats()
>>> _ = stats.feed("[2025-07-28 04:59:51] Decode batch. #running-req: 3, #token: 64, "
...                "token usage: 0.01, cuda graph: False, gen throughput (token/s): 5.96, "
...                "#queue-req: 1, ")
>>> stats.latest()["gen_throughput"], stats.latest()["running_req"]
(5.96, 3)
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from os import PathLike
from typing import TYPE_CHECKING, Any

from sgl_notebook.protocol.events import SchedulerEvent
from sgl_notebook.protocol.phases import LaunchPhase
from sgl_notebook.stats.points import (
    LOAD_FIELDS,
    POINT_COLUMNS,
    SUMMARY_FIELDS,
    StatsPoint,
    derived_hit_rate,
)
from sgl_notebook.stats.records import (
    AccessLine,
    EventRecord,
    LogRecord,
    PhaseRecord,
    SchedulerStats,
    event_record,
    parse_line,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from sgl_notebook.stats.load import LoadProbe, LoadReport
    from sgl_notebook.stats.metrics import MetricsSample

__all__ = ["StatsPoint", "ServerStats", "from_log", "DEFAULT_MAXLEN", "MAX_EVENTS"]

DEFAULT_MAXLEN = 20_000
MAX_EVENTS = 1_000

class ServerStats:
    """Thread-safe, bounded series of one server's scheduler stats (``maxlen`` points kept)."""

    def __init__(self, maxlen: int = DEFAULT_MAXLEN, dialect: str = "sglang") -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, got {maxlen}")
        self.dialect = dialect
        self._points: deque[StatsPoint] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._version = 0
        self._requests = 0
        self._last_time: datetime | None = None
        self._latest: dict[str, Any] = {}
        self.phases: list[PhaseRecord] = []
        self._events: deque[SchedulerEvent] = deque(maxlen=MAX_EVENTS)
        self._events_total = 0
        self._warming = False
        self._probe: LoadProbe | None = None
        self._probe_lock = threading.Lock()
        self._checked_at: datetime | None = None
        self._last_decode_mono: float | None = None

    # -- writing -----------------------------------------------------------------------------

    def feed(self, line: str) -> LogRecord | None:
        """Parse one log line; add a point if it is a stats or generation-access line.

        Returns the parsed record (or None). Never raises on any text.
        """
        record = parse_line(line, self.dialect)
        if record is None:
            return None
        with self._lock:
            if record.timestamp is not None:
                self._last_time = record.timestamp
            # Untimed lines (vLLM's access lines) take the last time the log showed.
            when = record.timestamp or self._last_time
            if isinstance(record, SchedulerStats):
                self._append_locked(
                    when,
                    record.kind,
                    gen_throughput=record.gen_throughput,
                    input_throughput=record.input_throughput,
                    prompt_throughput=record.prompt_throughput,
                    running_req=record.running_req,
                    queue_req=record.queue_req,
                    token_usage=record.token_usage,
                    num_token=record.num_token,
                    new_token=record.new_token,
                    cached_token=record.cached_token,
                    cache_hit_rate=derived_hit_rate(record),
                    accept_len=record.accept_len,
                    accept_rate=record.accept_rate,
                    swa_token_usage=record.swa_token_usage,
                    mamba_usage=record.mamba_usage,
                    gpu_token_usage=record.gpu_token_usage,
                    cpu_token_usage=record.cpu_token_usage,
                )
                if record.kind != "prefill":
                    self._last_decode_mono = time.monotonic()
            elif isinstance(record, AccessLine):
                if record.is_generation:
                    self._requests += 1
                    self._append_locked(when, "access", requests=self._requests)
            elif isinstance(record, EventRecord):
                self._add_event_locked(record.event)
            elif isinstance(record, PhaseRecord):
                self.phases.append(record)
                self._phase_event_locked(record, line)
        return record

    def _add_event_locked(self, event: SchedulerEvent) -> None:
        self._events.append(event)
        self._events_total += 1

    def _phase_event_locked(self, record: PhaseRecord, line: str) -> None:
        """Warm-up and ready become events; a crash that is also a failed launch phase too."""
        phase = record.event.phase
        if phase is LaunchPhase.WARMUP and "warming up" in record.event.message:
            if self._warming:
                return
            self._warming = True  # until READY: uvicorn prints two "up" lines
            self._add_event_locked(SchedulerEvent("warmup", record.timestamp, "Warming up", {}))
        elif phase is LaunchPhase.READY:
            self._warming = False
            self._add_event_locked(SchedulerEvent("ready", record.timestamp, "Ready", {}))
        elif phase is LaunchPhase.FAILED:
            crash = event_record(line)
            if crash is not None:
                self._add_event_locked(crash.event)
        elif phase is LaunchPhase.STARTING:
            self._warming = False

    def feed_lines(self, lines: Iterable[str]) -> int:
        """Feed many lines; returns how many were parsed into records."""
        return sum(1 for line in lines if self.feed(line) is not None)

    def add_metrics(self, sample: MetricsSample, when: datetime | None = None) -> StatsPoint:
        """Add a ``/metrics`` scrape (see :mod:`sgl_notebook.stats.metrics`) as a point."""
        with self._lock:
            return self._append_locked(when or datetime.now(), "metrics", **sample.values())

    def add_load(self, report: LoadReport) -> StatsPoint | None:
        """Add the server's load report (see :mod:`sgl_notebook.stats.load`).

        An idle report sets running, queued and token/s to 0. A point is added only when a
        value changed, so an idle server adds none; ``latest()["checked_at"]`` still moves.
        """
        values = {name: getattr(report, name) for name in LOAD_FIELDS}
        if report.idle:
            values.update(running_req=0, queue_req=0, gen_throughput=0.0)
            if report.load_tokens == 0:
                values.update(num_token=0, token_usage=0.0)
        set_values = {k: v for k, v in values.items() if v is not None}
        with self._lock:
            self._checked_at = report.time
            if all(self._latest.get(k) == v for k, v in set_values.items()):
                return None
            return self._append_locked(report.time, "load", **set_values)

    def add_answer(
        self, tokens: int | None, seconds: float | None, ttft: float | None = None
    ) -> StatsPoint | None:
        """A finished answer's own rate, for answers too short for a decode line.

        ``tokens``: completion tokens; ``seconds``: end-to-end time; ``ttft``: time to first
        token (the decode rate leaves it out). Ignored when a decode line arrived while the
        answer ran (the log's rate is the server's, over all requests) or without numbers.
        """
        if not tokens or not seconds or seconds <= 0:
            return None
        decode = seconds - ttft if ttft is not None and 0 < ttft < seconds else seconds
        started = time.monotonic() - seconds
        with self._lock:
            if self._last_decode_mono is not None and self._last_decode_mono >= started:
                return None
            rate = round(tokens / decode, 3)
            return self._append_locked(datetime.now(), "request", gen_throughput=rate)

    # -- the load report, polled while someone watches ---------------------------------------

    def watch_load(self, probe: LoadProbe | None) -> None:
        """Use ``probe`` (a :class:`~sgl_notebook.stats.load.LoadProbe`) for what runs now:
        :meth:`latest` and the dashboard ask it, at most once per its ``min_interval``."""
        self._probe = probe

    @property
    def load_probe(self) -> LoadProbe | None:
        return self._probe

    def refresh(self) -> bool:
        """Ask the load probe now if it is due; True if a report arrived. Never raises."""
        probe = self._probe
        if probe is None or not probe.due() or not self._probe_lock.acquire(blocking=False):
            return False
        try:
            report = probe.poll()
        except Exception:  # noqa: BLE001 -- a broken server must not break a view
            report = None
        finally:
            self._probe_lock.release()
        if report is not None:
            self.add_load(report)
        return report is not None

    def _append_locked(self, when: datetime | None, kind: str, **values: Any) -> StatsPoint:
        self._version += 1
        point = StatsPoint(self._version, when, kind, **values)
        self._points.append(point)
        for name, value in values.items():
            if value is not None:
                self._latest[name] = value
        self._latest["time"] = when
        return point

    # -- reading -----------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The version of the newest point (0 before any); grows by one per point."""
        return self._version

    def __len__(self) -> int:
        return len(self._points)

    def points(self) -> list[StatsPoint]:
        """A copy of every point kept, oldest first."""
        with self._lock:
            return list(self._points)

    def since(self, version: int) -> tuple[int, list[StatsPoint]]:
        """Points newer than ``version``, and the version to ask from next time.

        >>> stats = ServerStats(); version, new = stats.since(0); (version, new)
        (0, [])
        """
        with self._lock:
            if not self._points or version >= self._version:
                return self._version, []
            first = self._points[0].version
            start = max(0, version + 1 - first)
            return self._version, [self._points[i] for i in range(start, len(self._points))]

    def latest(self, refresh: bool = True) -> dict[str, Any]:
        """The newest value of each summary series, for a compact view.

        Keys: ``gen_throughput`` (token/s), ``running_req``, ``queue_req``, ``token_usage``
        (0-1), ``cache_hit_rate`` (0-1), ``requests``, ``ttft_p50`` / ``itl_p50`` (seconds, from
        /metrics), ``accept_len`` / ``accept_rate`` (speculative decoding), ``time`` (the newest
        point's), ``checked_at`` (the last load report, even an unchanged one), ``points`` and
        ``events``; None where never seen. With a load probe (launched and connected servers
        have one) and ``refresh``, the server is asked first when the last ask is over a
        second old, so an idle server reads 0 running, 0 queued, 0 token/s.
        """
        if refresh:
            self.refresh()
        with self._lock:
            summary = {name: self._latest.get(name) for name in SUMMARY_FIELDS}
            summary["time"] = self._latest.get("time")
            summary["checked_at"] = self._checked_at
            summary["points"] = len(self._points)
            summary["version"] = self._version
            summary["events"] = self._events_total
            return summary

    def events(self, kind: str | None = None) -> list[SchedulerEvent]:
        """Scheduler events seen (oldest first, the last :data:`MAX_EVENTS`): retraction,
        prefill_oom, scheduler_crash, shutdown, warmup, ready; ``kind`` keeps one kind."""
        with self._lock:
            return [e for e in self._events if kind is None or e.kind == kind]

    def events_df(self) -> pandas.DataFrame:
        """The events as a DataFrame: time, kind, message, and one column per number."""
        import pandas

        rows = [
            {"time": e.time, "kind": e.kind, "message": e.message, **e.numbers}
            for e in self.events()
        ]
        return pandas.DataFrame(rows, columns=None if rows else ["time", "kind", "message"])

    def df(self) -> pandas.DataFrame:
        """The series as a pandas DataFrame indexed by time, one column per field.

        Raises ImportError with the install command when pandas is missing.
        """
        try:
            import pandas
        except ImportError as error:
            raise ImportError(
                "ServerStats.df() needs pandas: pip install pandas "
                "(or pip install 'sgl-notebook[notebook]')"
            ) from error
        rows = [asdict(point) for point in self.points()]
        frame = pandas.DataFrame(rows, columns=list(POINT_COLUMNS))
        frame["time"] = pandas.to_datetime(frame["time"])
        return frame.set_index("time")

    def __repr__(self) -> str:
        latest = self.latest()
        return (
            f"<ServerStats points={latest['points']} gen_throughput={latest['gen_throughput']} "
            f"running={latest['running_req']} queued={latest['queue_req']}>"
        )


def from_log(
    path: str | PathLike[str], *, dialect: str = "sglang", maxlen: int | None = None
) -> ServerStats:
    """Build the series from a saved server log (for post-mortems): the same points as live.

    ``maxlen`` defaults to keeping every point of the file.
    """
    stats = ServerStats(maxlen=maxlen or sys.maxsize, dialect=dialect)
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            stats.feed(line)
    return stats
