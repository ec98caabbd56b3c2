"""The router's Prometheus metrics (``smg_*`` on its ``--prometheus-port``), parsed and kept.

sglang-router 0.3.x counts outcomes per worker (``smg_worker_cb_outcomes_total{worker=...}``,
which is how requests split across workers), worker health (``smg_worker_health``), requests
in flight per worker, selections by policy and the router's own request durations. Parsing is
pure (stdlib); :class:`RouterStats` keeps a bounded history of snapshots for plots and pandas.

>>> text = '''smg_worker_cb_outcomes_total{worker="http://a:1",outcome="success"} 3
... smg_worker_cb_outcomes_total{worker="http://b:2",outcome="success"} 1
... smg_worker_cb_outcomes_total{worker="http://b:2",outcome="failure"} 1
... smg_worker_health{worker="http://a:1"} 1
... smg_worker_health{worker="http://b:2"} 0
... smg_worker_selection_total{model="m",policy="round_robin"} 5'''
>>> snap = parse_router_metrics(text)
>>> snap.requests_per_worker, snap.healthy
({'http://a:1': 3.0, 'http://b:2': 2.0}, {'http://a:1': True, 'http://b:2': False})
>>> snap.selections_by_policy
{'round_robin': 5.0}
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RouterSnapshot", "RouterStats", "parse_router_metrics", "parse_prometheus_samples"]

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus_samples(text: str) -> Iterable[tuple[str, dict[str, str], float]]:
    """``(name, labels, value)`` for every sample line of a Prometheus text exposition."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        yield match["name"], labels, value


@dataclass
class RouterSnapshot:
    """One scrape of the router: per-worker counters and health, by worker URL."""

    when: float = 0.0  # epoch seconds
    requests_per_worker: dict[str, float] = field(default_factory=dict)
    failures_per_worker: dict[str, float] = field(default_factory=dict)
    active_per_worker: dict[str, float] = field(default_factory=dict)
    healthy: dict[str, bool] = field(default_factory=dict)
    selections_by_policy: dict[str, float] = field(default_factory=dict)
    requests_total: float = 0.0
    duration_sum_s: float = 0.0
    duration_count: float = 0.0

    @property
    def mean_duration_s(self) -> float | None:
        """Mean time the router spent per request (None before the first one)."""
        return self.duration_sum_s / self.duration_count if self.duration_count else None

    def split(self) -> dict[str, float]:
        """Each worker's share of the requests routed so far (fractions summing to 1)."""
        total = sum(self.requests_per_worker.values())
        return {w: n / total for w, n in self.requests_per_worker.items()} if total else {}


def _add(table: dict[str, float], key: str, value: float) -> None:
    table[key] = table.get(key, 0.0) + value


def parse_router_metrics(text: str, when: float | None = None) -> RouterSnapshot:
    """A :class:`RouterSnapshot` from the text of the router's ``/metrics``."""
    snap = RouterSnapshot(when=time.time() if when is None else when)
    for name, labels, value in parse_prometheus_samples(text):
        worker = labels.get("worker", "")
        if name == "smg_worker_cb_outcomes_total" and worker:
            _add(snap.requests_per_worker, worker, value)
            if labels.get("outcome") == "failure":
                _add(snap.failures_per_worker, worker, value)
        elif name == "smg_worker_health" and worker:
            snap.healthy[worker] = value >= 1.0
        elif name == "smg_worker_requests_active" and worker:
            snap.active_per_worker[worker] = value
        elif name == "smg_worker_selection_total":
            _add(snap.selections_by_policy, labels.get("policy", "?"), value)
        elif name == "smg_router_requests_total":
            snap.requests_total += value
        elif name == "smg_router_request_duration_seconds_sum":
            snap.duration_sum_s += value
        elif name == "smg_router_request_duration_seconds_count":
            snap.duration_count += value
    return snap


class RouterStats:
    """A bounded history of router snapshots (thread-safe), fed by :meth:`scrape` or ``add``."""

    def __init__(self, metrics_url: str | None, maxlen: int = 3600) -> None:
        self.metrics_url = metrics_url
        self._points: deque[RouterSnapshot] = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.version = 0
        self.error: str | None = None

    def add(self, snap: RouterSnapshot) -> None:
        with self._lock:
            self._points.append(snap)
            self.version += 1

    def scrape(self, timeout: float = 2.0) -> RouterSnapshot | None:
        """Read the router's metrics once and keep the snapshot; None when it does not answer."""
        if not self.metrics_url:
            return None
        import httpx

        try:
            response = httpx.get(self.metrics_url, timeout=timeout, trust_env=False)
            response.raise_for_status()
        except httpx.HTTPError as error:
            self.error = f"{type(error).__name__}: {error}"
            return None
        snap = parse_router_metrics(response.text)
        self.add(snap)
        self.error = None
        return snap

    def points(self) -> list[RouterSnapshot]:
        with self._lock:
            return list(self._points)

    def latest(self) -> RouterSnapshot | None:
        with self._lock:
            return self._points[-1] if self._points else None

    def df(self) -> Any:
        """One row per (scrape, worker): requests, failures, in flight, healthy."""
        import pandas as pd

        rows = []
        for snap in self.points():
            for worker in sorted(set(snap.requests_per_worker) | set(snap.healthy)):
                rows.append({
                    "time": pd.Timestamp(snap.when, unit="s", tz="UTC"),
                    "worker": worker,
                    "requests": snap.requests_per_worker.get(worker, 0.0),
                    "failures": snap.failures_per_worker.get(worker, 0.0),
                    "in_flight": snap.active_per_worker.get(worker, 0.0),
                    "healthy": snap.healthy.get(worker),
                })
        return pd.DataFrame(rows, columns=["time", "worker", "requests", "failures",
                                           "in_flight", "healthy"])

    def __repr__(self) -> str:
        latest = self.latest()
        split = ", ".join(f"{w}: {n:.0f}" for w, n in (latest.requests_per_worker.items()
                                                        if latest else ()))
        return f"<RouterStats {len(self.points())} scrapes; requests per worker: {split or '-'}>"
