"""The sidebar's "now": each server's load report, asked while the sidebar polls.

The log follower (:mod:`sgl_notebook.jupyter_server.log_tail`) knows what the server *logged*;
SGLang logs nothing when it goes idle. While JupyterLab asks for the server list (the sidebar
and the status bar poll it), :class:`LoadWatchers` asks each live server's load route
(:class:`~sgl_notebook.stats.load.LoadProbe`: ``/v1/loads``, ``/get_load``, vLLM's gauges) at
most once a second, off the event loop, and :func:`merge_load` lays the answer over the log's
numbers. Nobody watching: no polling.

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
from sgl_notebook.stats.load import LoadProbe, LoadReport

__all__ = ["LoadWatchers", "merge_load", "FRESH_FOR_S"]

FRESH_FOR_S = 5.0  # a report older than this no longer speaks for "now"


def merge_load(stats: dict[str, Any], report: LoadReport | None) -> dict[str, Any]:
    """The follower's stats with the load report's live counts laid over them."""
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
    elif report.gen_throughput is not None and not merged.get("gen_throughput"):
        merged["gen_throughput"] = report.gen_throughput
    merged["checked_at"] = report.time.timestamp()
    merged["load_source"] = report.source
    return merged


class LoadWatchers:
    """One :class:`LoadProbe` per server id; :meth:`refresh` asks the due ones concurrently."""

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self._probes: dict[str, LoadProbe] = {}

    def probe(self, record: ServerRecord) -> LoadProbe:
        probe = self._probes.get(record.id)
        if probe is None or probe.url != record.url.rstrip("/"):
            probe = LoadProbe(
                record.url, record.api_key, engine=record.engine, timeout=self.timeout
            )
            self._probes[record.id] = probe
        return probe

    async def refresh(self, records: list[ServerRecord]) -> None:
        """Ask every live server whose last ask is over a second old (in worker threads)."""
        loop = asyncio.get_running_loop()
        due = [self.probe(r) for r in records if self.probe(r).due()]
        if due:
            await asyncio.gather(*(loop.run_in_executor(None, p.poll) for p in due))

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
