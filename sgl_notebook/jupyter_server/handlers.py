"""Authenticated REST handlers under ``/sgl-notebook/api/``, over the server registry.

``GET servers``                 every server with liveness, uptime, owner and latest stats
``GET servers/<id>/logs?n=N``   the last N log lines (API key redacted), without the toolkit's own
                                polling (``GET /metrics``...; ``hidden_polling`` counts them;
                                ``&polling=show`` keeps them)
``GET servers/<id>/stats``      latest stats and throughput history, parsed incrementally
``POST servers/<id>/stop``      stop a registry server (pid and create time checked)

Errors are JSON (``{"message": ...}``) with 400/404/409; unauthenticated requests get 403.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from sgl_notebook.jupyter_server.inventory import describe_server
from sgl_notebook.jupyter_server.load_watch import LoadWatchers, merge_load
from sgl_notebook.jupyter_server.log_tail import (
    LogStatsFollower,
    tail_lines,
    tail_without_polling,
)
from sgl_notebook.server.registry import (
    ServerRecord,
    list_records,
    owner_is_alive,
    record_is_alive,
    stop_record,
)

__all__ = ["setup_handlers", "API_ROOT", "MAX_LOG_LINES"]

API_ROOT = "sgl-notebook/api"
MAX_LOG_LINES = 5000
DEFAULT_LOG_LINES = 100
_FOLLOWERS_KEY = "sgl_notebook_log_followers"
_WATCHERS_KEY = "sgl_notebook_load_watchers"


class _SglHandler(APIHandler):
    """Shared helpers: the per-server log followers and the record lookup."""

    @property
    def followers(self) -> dict[str, LogStatsFollower]:
        return self.settings.setdefault(_FOLLOWERS_KEY, {})  # type: ignore[no-any-return]

    @property
    def watchers(self) -> LoadWatchers:
        return self.settings.setdefault(_WATCHERS_KEY, LoadWatchers())  # type: ignore[no-any-return]

    def stats_for(self, record: ServerRecord, now: float) -> dict[str, Any]:
        """The log's numbers, with the server's load report (what runs now) laid over them."""
        report = self.watchers.report(record)
        rate = self.watchers.token_rate(record)
        if not record.log_path:
            return merge_load({}, report, rate)
        follower = self.followers.get(record.id)
        if follower is None or follower.path != record.log_path:
            follower = LogStatsFollower(record.log_path, dialect=record.engine)
            self.followers[record.id] = follower
        return merge_load(follower.poll(now), report, rate)

    def find(self, server_id: str) -> ServerRecord:
        for record in list_records(prune=True):
            if record.id == server_id:
                return record
        raise web.HTTPError(404, f"no server with id {server_id!r} in the sgl-notebook registry")

    def reply(self, data: dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))


class ServersHandler(_SglHandler):
    @web.authenticated
    async def get(self) -> None:
        now = time.time()
        records = list_records(prune=True)
        await self.watchers.refresh([r for r in records if record_is_alive(r)])
        notebooks = await self._kernel_notebooks()
        servers = [
            describe_server(
                record,
                alive=record_is_alive(record),
                owner_alive=owner_is_alive(record),
                now=now,
                stats=self.stats_for(record, now),
                owner_notebook=notebooks.get(record.owner_kernel_id or ""),
            )
            for record in records
        ]
        # forget followers of servers that left the registry
        live_ids = {record.id for record in records}
        for server_id in list(self.followers):
            if server_id not in live_ids:
                del self.followers[server_id]
        self.watchers.forget(live_ids)
        self.reply({"servers": servers, "now": now})

    async def _kernel_notebooks(self) -> dict[str, str]:
        """kernel id -> notebook path, for the kernels this Jupyter server runs."""
        manager = self.settings.get("session_manager")
        if manager is None:
            return {}
        try:
            sessions = await manager.list_sessions()
        except Exception:  # noqa: BLE001 -- the list works without notebook names
            return {}
        return {s["kernel"]["id"]: s.get("path", "") for s in sessions if s.get("kernel")}


class LogsHandler(_SglHandler):
    @web.authenticated
    async def get(self, server_id: str) -> None:
        raw = self.get_query_argument("n", str(DEFAULT_LOG_LINES))
        try:
            n = int(raw)
        except ValueError:
            raise web.HTTPError(400, f"n must be a whole number of lines, got {raw!r}") from None
        if not 1 <= n <= MAX_LOG_LINES:
            raise web.HTTPError(400, f"n must be between 1 and {MAX_LOG_LINES}, got {n}")
        record = self.find(server_id)
        if self.get_query_argument("polling", "hide") == "show":
            lines = tail_lines(record.log_path, n, redact=record.api_key) if record.log_path else []
            hidden = 0
        elif record.log_path:
            lines, hidden = tail_without_polling(record.log_path, n, redact=record.api_key)
        else:
            lines, hidden = [], 0
        self.reply({"id": record.id, "lines": lines, "hidden_polling": hidden})


class StatsHandler(_SglHandler):
    @web.authenticated
    async def get(self, server_id: str) -> None:
        record = self.find(server_id)
        if record_is_alive(record):
            await self.watchers.refresh([record])
        now = time.time()
        self.reply(
            {
                "id": record.id,
                **describe_server(
                    record,
                    alive=record_is_alive(record),
                    owner_alive=owner_is_alive(record),
                    now=now,
                    stats=self.stats_for(record, now),
                )["stats"],
            }
        )


STOPPED_FROM_LAB = "JupyterLab (the SGLang servers sidebar)"


class StopHandler(_SglHandler):
    @web.authenticated
    async def post(self, server_id: str) -> None:
        record = self.find(server_id)
        # terminate, wait, kill: up to seconds, so off the event loop
        stopped = await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(stop_record, record, by=STOPPED_FROM_LAB)
        )
        if not stopped:
            raise web.HTTPError(
                409,
                f"server {record.name!r} was not stopped: pid {record.pid} is gone or now "
                "belongs to another process",
            )
        self.followers.pop(record.id, None)
        self.reply({"id": record.id, "stopped": True})


class NotFoundHandler(_SglHandler):
    """Any other path under the API root: a JSON 404, still behind authentication."""

    @web.authenticated
    def get(self) -> None:
        raise web.HTTPError(404, f"no such sgl-notebook endpoint: {self.request.path}")

    post = put = delete = patch = get


def setup_handlers(web_app: Any) -> None:
    """Mount the handlers under ``<base_url>/sgl-notebook/api/``."""
    base = url_path_join(web_app.settings["base_url"], API_ROOT)
    server_id = r"(?P<server_id>[A-Za-z0-9_.\-]+)"
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "servers") + "/?", ServersHandler),
            (url_path_join(base, "servers", server_id, "logs"), LogsHandler),
            (url_path_join(base, "servers", server_id, "stats"), StatsHandler),
            (url_path_join(base, "servers", server_id, "stop"), StopHandler),
            (url_path_join(base, ".*"), NotFoundHandler),
        ],
    )
