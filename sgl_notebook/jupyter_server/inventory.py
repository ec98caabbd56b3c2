"""What the lab extension sees of a registry record: a JSON-ready dict, never the API key.

>>> from sgl_notebook.server.registry import ServerRecord
>>> rec = ServerRecord(id="a1", name="tiny", engine="cpu", model="/m/tiny", url="http://127.0.0.1:3",
...     host="127.0.0.1", port=3, pid=10, pgid=10, create_time=1.0, started_at=100.0,
...     log_path=None, owner_pid=9, owner_kernel_id="k", api_key="secret", managed=True)
>>> info = describe_server(rec, alive=True, owner_alive=False, now=160.0, stats={})
>>> info["uptime_s"], info["orphaned"], "api_key" in info
(60.0, True, False)
"""

from __future__ import annotations

from typing import Any

from sgl_notebook.server.registry import ServerRecord

__all__ = ["describe_server", "EMPTY_STATS"]

EMPTY_STATS: dict[str, Any] = {
    "gen_throughput": None,
    "running_req": None,
    "queue_req": None,
    "token_usage": None,
    "cache_hit_rate": None,
    "updated_at": None,
    "history": [],
}


def describe_server(
    record: ServerRecord,
    *,
    alive: bool,
    owner_alive: bool,
    now: float,
    stats: dict[str, Any],
    owner_notebook: str | None = None,
) -> dict[str, Any]:
    """The card data of one server. ``orphaned``: launched by a kernel that is gone."""
    orphaned = record.managed and record.owner_pid is not None and not owner_alive
    return {
        "id": record.id,
        "name": record.name,
        "engine": record.engine,
        "model": record.model,
        "url": record.url,
        "status": "running" if alive else "exited",
        "alive": alive,
        "pid": record.pid,
        "started_at": record.started_at,
        "uptime_s": max(0.0, now - record.started_at) if alive else None,
        "managed": record.managed,
        "owner_kernel_id": record.owner_kernel_id,
        "owner_notebook": owner_notebook,
        "orphaned": orphaned,
        "stats": {**EMPTY_STATS, **stats},
        "worker_ids": list(record.worker_ids),  # a router's workers, nested under it
        "router_id": record.router_id,
    }
