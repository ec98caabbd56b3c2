"""Several workers behind SGLang's router as one ``Router``: a ``Server`` at the router's URL.

Made by :mod:`sgl_notebook.server.router_launch` (``launch(model, replicas=N)`` and
``router([servers or URLs])``). ``client()``, ``chat()``, ``generate()`` and ``backend()`` go
through the router, ``.workers`` lists the worker ``Server`` s, and ``stop()`` ends the router
and the workers it launched -- never a server it only fronts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.server.errors import ServerStoppedError, SglNotebookError
from sgl_notebook.server.launcher import ServerProcess
from sgl_notebook.server.registry import ServerRecord, write_record
from sgl_notebook.server.router_process import (
    readiness,
    start_router,
)
from sgl_notebook.server.server import PhaseListener, Server
from sgl_notebook.stats.router_metrics import RouterStats

__all__ = ["Router", "MemberPhase", "stop_all"]

WATCH_INTERVAL_S = 0.5


@dataclasses.dataclass(frozen=True)
class MemberPhase:
    """A launch phase of one member of a router group (``member``: "router" or a worker name).
    Has the fields of a ``PhaseEvent``, so a single-server ``on_phase`` callback takes it too."""

    member: str
    phase: LaunchPhase
    message: str
    progress: float | None = None
    timestamp: Any = None

    @classmethod
    def of(cls, member: str, event: PhaseEvent) -> MemberPhase:
        return cls(member, event.phase, event.message, event.progress, event.timestamp)


class Router(Server):
    """SGLang's router in front of ``workers``; requests through it are spread by ``policy``."""

    def __init__(self, record: ServerRecord, *, process: Any, workers: Sequence[Server],
                 owned: Sequence[Server], policy: str, start: dict[str, Any]) -> None:
        super().__init__(record, process=process)
        self.workers = list(workers)
        self._owned = list(owned)
        self.policy = policy
        self._start = start  # how to start the router again (restart)
        self.router_stats = RouterStats(self.metrics_url)
        self.removed: list[str] = []  # names of launched workers taken out after they died
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._start_watching()

    @property
    def metrics_url(self) -> str | None:
        """The router's Prometheus endpoint (``smg_*`` metrics), on its own port."""
        port = self.record.metrics_port
        return f"http://127.0.0.1:{port}/metrics" if port else None

    def __repr__(self) -> str:
        names = ", ".join(w.name for w in self.workers)
        return (f"Router(name={self.name!r}, policy={self.policy!r}, url={self.url!r}, "
                f"workers=[{names}], status={self.status!r})")

    def logs(self, n: int = 50) -> list[str]:
        """The router's last ``n`` log lines, without its ANSI colours."""
        from sgl_notebook.protocol.router_logs import strip_ansi

        return [strip_ansi(line) for line in super().logs(n)]

    def events(self, n: int = 2000) -> list[Any]:
        """What the router's log says (start-up, ready, worker registration and health,
        errors, shutdown) as ``RouterEvent`` s, oldest first; request lines left out."""
        from sgl_notebook.protocol.router_logs import parse_router_line

        parsed = (parse_router_line(line) for line in super().logs(n))
        return [e for e in parsed if e is not None and e.kind != "request"]

    # -- health -------------------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        """The router's ``/readiness``: status, healthy_workers, total_workers."""
        return readiness(self.url) or {"status": "unreachable"}

    def worker_health(self) -> dict[str, bool]:
        """Worker name -> healthy, as the router sees it (``GET /workers``); a launched worker
        whose process is gone counts as unhealthy at once."""
        seen: dict[str, bool] = {}
        with contextlib.suppress(Exception):
            for item in self._get_json("/workers").get("workers", []):
                seen[str(item.get("url", "")).rstrip("/")] = bool(item.get("is_healthy"))
        health = {}
        for worker in self.workers:
            alive = worker.is_alive() if worker.managed else True
            health[worker.name] = alive and seen.get(worker.url.rstrip("/"), False)
        return health

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _get_json(self, path: str) -> dict[str, Any]:
        import httpx

        response = httpx.get(self.url + path, timeout=5.0, trust_env=False,
                             headers=self._headers())
        response.raise_for_status()
        data = response.json()
        return data if isinstance(data, dict) else {}

    def wait_ready(self, timeout: float = 600.0) -> Router:
        """Block until ``/readiness`` reports every worker healthy."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            state = self.readiness()
            if state.get("status") == "ready" and state.get("healthy_workers") == len(self.workers):
                return self
            if not self.is_alive():
                raise ServerStoppedError(f"router {self.name!r} exited; see router.logs()")
            if time.monotonic() > deadline:
                raise ServerStoppedError(f"router {self.name!r}: workers not healthy after "
                                         f"{timeout:.0f} s ({state})")
            time.sleep(0.2)

    def _start_watching(self) -> None:
        if self._watcher is None or not self._watcher.is_alive():
            self._watch_stop.clear()
            self._watcher = threading.Thread(target=self._watch_workers, daemon=True,
                                             name=f"sgl-router-watch-{self.name}")
            self._watcher.start()

    def _watch_workers(self) -> None:
        """Take a launched worker out of the router the moment its process dies: the router
        would keep sending it requests until its health checks fail several times."""
        while not self._watch_stop.wait(WATCH_INTERVAL_S):
            if self.status != "ready" or not self.is_alive():
                continue
            for worker in list(self._owned):
                if worker.managed and worker.name not in self.removed and not worker.is_alive():
                    with contextlib.suppress(Exception):
                        self._remove_worker_url(worker.url)
                        self.removed.append(worker.name)
                        note = (f"[sgl-notebook] worker {worker.name} ({worker.url}) exited; "
                                "removed from the router, the others serve")
                        if self._process is not None:
                            self._process.pump.feed(note)

    def _remove_worker_url(self, url: str) -> None:
        import httpx

        for item in self._get_json("/workers").get("workers", []):
            if str(item.get("url", "")).rstrip("/") == url.rstrip("/"):
                response = httpx.delete(f"{self.url}/workers/{item['id']}", timeout=5.0,
                                        trust_env=False, headers=self._headers())
                response.raise_for_status()

    # -- stats --------------------------------------------------------------------------------

    def split(self) -> dict[str, float]:
        """Requests routed to each worker so far (by worker name), from the router's metrics."""
        snap = self.router_stats.scrape()
        if snap is None:
            raise SglNotebookError(f"the router's metrics at {self.metrics_url} do not answer "
                                   f"({self.router_stats.error})")
        by_url = {w.url.rstrip("/"): w.name for w in self.workers}
        return {by_url.get(u.rstrip("/"), u): n for u, n in snap.requests_per_worker.items()}

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0,
             save_log: str | Path | None = None) -> Path | None:
        """Stop the router, then every worker it launched (servers it only fronts keep
        running; URLs it connected to are forgotten)."""
        self._watch_stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(5.0)
        try:
            return super().stop(timeout=timeout, save_log=save_log)
        finally:
            stop_all(self._owned, timeout)

    def restart(self, timeout: float | None = None) -> Router:
        """Start exited workers it launched again, then the router (same settings)."""
        for worker in self._owned:
            if worker.managed and not worker.is_alive():
                worker.restart(timeout=timeout)
        super().restart(timeout=timeout)
        return self

    def _can_start(self) -> bool:
        return True  # a Router is always one this process started (launch or router())

    def _start_process(self, timeout: float | None, on_phase: PhaseListener) -> ServerProcess:
        options = dict(self._start)
        if timeout is not None:
            options["timeout"] = timeout
        process = start_router([w.url for w in self.workers], name=self.name,
                               on_phase=on_phase, **options)
        process.record = _link(process.record, self.workers, self._owned)
        return process

    def _after_start(self) -> None:
        self.removed.clear()
        self._start_watching()
        self.router_stats.metrics_url = self.metrics_url


def stop_all(servers: Sequence[Server], timeout: float = 10.0) -> None:
    """Stop each server on its own thread (a slow one does not hold up the rest)."""
    threads = [threading.Thread(target=_quiet_stop, args=(s, timeout), daemon=True)
               for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 10)


def _quiet_stop(server: Server, timeout: float) -> None:
    with contextlib.suppress(Exception):
        server.stop(timeout=timeout)


def _link(record: ServerRecord, workers: Sequence[Server], owned: Sequence[Server]) -> ServerRecord:
    """Write the router/worker links into the registry (the CLI and sidebar nest by them)."""
    for worker in owned:
        worker.record = dataclasses.replace(worker.record, router_id=record.id)
        if worker.managed and worker._process is not None:
            worker._process.record = worker.record
        write_record(worker.record)
    record = dataclasses.replace(record, worker_ids=tuple(w.record.id for w in workers))
    write_record(record)
    return record
