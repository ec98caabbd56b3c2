"""The sidebar's "now": each server's load report, asked while the sidebar polls.

The log follower (:mod:`sgl_notebook.jupyter_server.log_tail`) knows what the server *logged*;
SGLang logs nothing when it goes idle. While JupyterLab asks for the server list (the sidebar
and the status bar poll it), :class:`LoadWatchers` asks each live server's load route
(:class:`~sgl_notebook.stats.load.LoadProbe`: ``/v1/loads``, ``/get_load``, vLLM's gauges) at
most once a second, off the event loop, and :func:`merge_load` lays the answer over the log's
numbers. Nobody watching: no polling.

Where the server has ``/metrics``, the same ask reads how many tokens it has streamed (its TTFT
and ITL histogram counts grow with every token as it goes out), so a short answer -- which never
makes a decode line -- still shows its token/s while it runs.

>>> from datetime import datetime
>>> from sgl_notebook.stats.load import LoadReport
>>> merged = merge_load({"running_req": 1, "gen_throughput": 2.8, "history": []},
...                     LoadReport(datetime.now(), "/v1/loads", running_req=0, queue_req=0))
>>> merged["running_req"], merged["gen_throughput"], merged["load_source"]
(0, 0.0, '/v1/loads')
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sgl_notebook.server.registry import ServerRecord
from sgl_notebook.stats.load import LoadProbe, LoadReport, parse_token_count

__all__ = ["LoadWatchers", "TokenRate", "merge_load", "FRESH_FOR_S"]

FRESH_FOR_S = 5.0  # a report older than this no longer speaks for "now"


def merge_load(
    stats: dict[str, Any], report: LoadReport | None, token_rate: float | None = None
) -> dict[str, Any]:
    """The follower's stats with the load report's live counts laid over them (and, while busy,
    the streamed-token rate from ``/metrics`` when it is higher than the log's figure)."""
    if report is None:
        return stats
    merged = dict(stats)
    for name in ("running_req", "queue_req", "token_usage"):
        value = getattr(report, name)
        if value is not None:
            merged[name] = value
    if report.idle:
        merged.update(running_req=0, queue_req=0, gen_throughput=0.0)
        if report.load_tokens == 0:
            merged["token_usage"] = 0.0
    else:
        if report.gen_throughput is not None and not merged.get("gen_throughput"):
            merged["gen_throughput"] = report.gen_throughput
        if token_rate is not None and token_rate > (merged.get("gen_throughput") or 0.0):
            merged["gen_throughput"] = round(token_rate, 2)
    merged["checked_at"] = report.time.timestamp()
    merged["load_source"] = report.source
    return merged


class TokenRate:
    """Tokens streamed per second by one server, from two ``/metrics`` reads in a row."""

    def __init__(self, probe: LoadProbe) -> None:
        self.probe = probe
        self.available: bool | None = None  # False once /metrics said 404
        self.rate: float | None = None
        self._last: tuple[float, float] | None = None  # (monotonic time, tokens)

    def read(self) -> None:
        """Read the counts now (the probe's HTTP client); never raises."""
        if self.available is False:
            return
        try:
            response = self.probe._get("/metrics")
        except Exception:  # noqa: BLE001 -- no rate this time
            return
        if response.status_code == 404:
            self.available = False
            return
        tokens = parse_token_count(response.text) if response.status_code == 200 else None
        if tokens is None:
            return
        self.available = True
        now = time.monotonic()
        if self._last is not None and now > self._last[0] and tokens >= self._last[1]:
            self.rate = (tokens - self._last[1]) / (now - self._last[0])
        self._last = (now, tokens)


class LoadWatchers:
    """One :class:`LoadProbe` per server id; :meth:`refresh` asks the due ones concurrently."""

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self._probes: dict[str, LoadProbe] = {}
        self._rates: dict[str, TokenRate] = {}

    def probe(self, record: ServerRecord) -> LoadProbe:
        probe = self._probes.get(record.id)
        if probe is None or probe.url != record.url.rstrip("/"):
            probe = LoadProbe(
                record.url, record.api_key, engine=record.engine, timeout=self.timeout
            )
            self._probes[record.id] = probe
            self._rates[record.id] = TokenRate(probe)
        return probe

    def _ask(self, record: ServerRecord) -> None:
        answered = self._probes[record.id].poll() is not None
        if answered and record.engine != "vllm":  # vLLM's load already comes from /metrics
            self._rates[record.id].read()

    async def refresh(self, records: list[ServerRecord]) -> None:
        """Ask every live server whose last ask is over a second old (in worker threads)."""
        loop = asyncio.get_running_loop()
        due = [r for r in records if self.probe(r).due()]
        if due:
            await asyncio.gather(*(loop.run_in_executor(None, self._ask, r) for r in due))

    def token_rate(self, record: ServerRecord) -> float | None:
        """Tokens streamed per second between the last two asks (None without /metrics)."""
        rate = self._rates.get(record.id)
        return rate.rate if rate is not None else None

    def report(self, record: ServerRecord) -> LoadReport | None:
        """The last report of a server, while it is fresh."""
        probe = self._probes.get(record.id)
        last = probe.last if probe is not None else None
        if last is None or time.time() - last.time.timestamp() > FRESH_FOR_S:
            return None
        return last

    def forget(self, live_ids: set[str]) -> None:
        for server_id in list(self._probes):
            if server_id not in live_ids:
                self._probes.pop(server_id).close()
                self._rates.pop(server_id, None)
