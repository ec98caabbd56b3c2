"""Several workers behind SGLang's router as one ``Router``: a ``Server`` at the router's URL.

``launch(model, replicas=N, router_policy=...)`` starts N workers (in parallel, on free ports)
and then the router in front of them; ``router([servers or URLs], policy=...)`` fronts servers
that already run. Either way ``client()``, ``chat()``, ``generate()`` and ``backend()`` go
through the router, ``.workers`` lists the worker ``Server`` s, and ``stop()`` ends the router
and the workers it launched -- never a server it only fronts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sgl_notebook.protocol.phases import LaunchPhase, PhaseEvent
from sgl_notebook.server.errors import LaunchError, ServerStoppedError, SglNotebookError
from sgl_notebook.server.registry import ServerRecord, write_record
from sgl_notebook.server.router_process import (
    check_policy,
    check_router_installed,
    readiness,
    start_router,
)
from sgl_notebook.server.server import Server

__all__ = ["Router", "MemberPhase", "launch_replicas", "router"]

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
        from sgl_notebook.stats.router_metrics import RouterStats

        self.router_stats = RouterStats(self.metrics_url)
        self.removed: list[str] = []  # names of launched workers taken out after they died
        self._watch_stop = threading.Event()
        threading.Thread(target=self._watch_workers, name=f"sgl-router-watch-{self.name}",
                         daemon=True).start()

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

    # -- health -------------------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        """The router's ``/readiness``: status, healthy_workers, total_workers."""
        return readiness(self.url) or {"status": "unreachable"}

    def worker_health(self) -> dict[str, bool]:
        """Worker name -> healthy, as the router sees it (``GET /workers``); a launched worker
        whose process is gone counts as unhealthy at once."""
        seen: dict[str, bool] = {}
        with contextlib.suppress(Exception):
            for item in self._sgl_client_json("/workers").get("workers", []):
                seen[str(item.get("url", "")).rstrip("/")] = bool(item.get("is_healthy"))
        health = {}
        for worker in self.workers:
            alive = worker.is_alive() if worker.managed else True
            health[worker.name] = alive and seen.get(worker.url.rstrip("/"), False)
        return health

    def _sgl_client_json(self, path: str) -> dict[str, Any]:
        import httpx

        response = httpx.get(self.url + path, timeout=5.0, trust_env=False)
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

        for item in self._sgl_client_json("/workers").get("workers", []):
            if str(item.get("url", "")).rstrip("/") == url.rstrip("/"):
                response = httpx.delete(f"{self.url}/workers/{item['id']}", timeout=5.0,
                                        trust_env=False)
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

    def dashboard(self, **kwargs: Any) -> Any:
        """Workers overlaid (one colour each) plus the router's request split per worker."""
        from sgl_notebook.display.router_panel import router_dashboard

        return router_dashboard(self, **kwargs)

    # -- lifecycle ----------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0,
             save_log: str | Path | None = None) -> Path | None:
        """Stop the router, then every worker it launched (servers it only fronts keep
        running; URLs it connected to are forgotten)."""
        self._watch_stop.set()
        try:
            return super().stop(timeout=timeout, save_log=save_log)
        finally:
            stop_all(self._owned, timeout)

    def restart(self, timeout: float | None = None) -> Router:
        """Start exited workers it launched again, then the router (same settings)."""
        for worker in self._owned:
            if worker.managed and not worker.is_alive():
                worker.restart(timeout=timeout)
        with self._lock:
            if self._process is not None:
                self._process.stop()
            self.status = "starting"
            options = dict(self._start)
            if timeout is not None:
                options["timeout"] = timeout
            try:
                process = start_router([w.url for w in self.workers], name=self.name,
                                       on_phase=self._on_phase, **options)
            except BaseException:
                self.status = "failed"
                raise
            process.record = _link(process.record, self.workers, self._owned)
            self.removed.clear()
            self._attach(process)
            self.router_stats.metrics_url = self.metrics_url
            self.status = "ready"
        from sgl_notebook.server import api

        api.remember(self)
        return self


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


def _start_router_for(workers: Sequence[Server], owned: Sequence[Server], *, policy: str,
                      name: str | None, model: str, start: dict[str, Any],
                      on_phase: Callable[[Any], None] | None) -> Router:
    def tagged(event: PhaseEvent) -> None:
        if on_phase is not None:
            on_phase(MemberPhase.of("router", event))
        if holder:
            holder[0]._on_phase(event)

    holder: list[Router] = []
    try:
        process = start_router([w.url for w in workers], policy=policy, name=name, model=model,
                               on_phase=tagged, **start)
    except BaseException as error:
        if on_phase is not None:
            with contextlib.suppress(Exception):
                first = (str(error) or type(error).__name__).splitlines()[0]
                on_phase(MemberPhase("router", LaunchPhase.FAILED, first))
        raise
    process.record = _link(process.record, workers, owned)
    routed = Router(process.record, process=process, workers=workers, owned=owned,
                    policy=policy, start={"policy": policy, "model": model, **start})
    holder.append(routed)
    from sgl_notebook.server import api

    api.remember(routed)
    return routed


def launch_replicas(model: str | None, *, replicas: int, router_policy: str | None,
                    name: str | None, host: str, api_key: str | None, python: str | None,
                    timeout: float, on_phase: Callable[[Any], None] | None,
                    launch_one: Callable[..., Server]) -> Router:
    """``replicas`` workers from ``launch_one(model, name=..., on_phase=...)`` and a router."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(
            f"replicas must be a whole number of workers, at least 1; got {replicas!r}"
        )
    policy = router_policy or "cache_aware"
    check_policy(policy, replicas)
    check_router_installed(_own_python())  # the router runs in the toolkit's environment
    from sgl_notebook.server.launcher import _claim_name, _release_name

    base = _claim_name(name, model, "cpu")  # held until the router takes it
    try:
        workers = _launch_workers(model, replicas, base, on_phase, launch_one)
    finally:
        _release_name(base)
    start = {"host": host, "api_key": api_key, "timeout": timeout}
    try:
        return _start_router_for(workers, workers, policy=policy, name=base,
                                 model=workers[0].model, start=start, on_phase=on_phase)
    except BaseException:
        stop_all(workers, 5.0)
        raise


def _own_python() -> str:
    import sys

    return sys.executable


def _launch_workers(model: str | None, replicas: int, base: str,
                    on_phase: Callable[[Any], None] | None,
                    launch_one: Callable[..., Server]) -> list[Server]:
    names = [f"{base}-w{i + 1}" for i in range(replicas)]
    started: dict[int, Server] = {}
    failures: dict[int, BaseException] = {}

    def one(index: int) -> None:
        member = names[index]

        def tagged(event: PhaseEvent) -> None:
            if on_phase is not None:
                on_phase(MemberPhase.of(member, event))

        try:
            started[index] = launch_one(model, name=member, on_phase=tagged)
        except BaseException as error:  # noqa: BLE001 -- reported below, with the worker's name
            failures[index] = error

    threads = [threading.Thread(target=one, args=(i,), name=f"sgl-launch-{names[i]}",
                                daemon=True) for i in range(replicas)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # short joins: a KeyboardInterrupt gets through
    except BaseException:
        _cleanup_after_interrupt(threads, started)
        raise
    if failures:
        stop_all(list(started.values()), 5.0)
        raise _worker_failure(names, failures)
    return [started[i] for i in range(replicas)]


def _cleanup_after_interrupt(threads: Sequence[threading.Thread],
                             started: dict[int, Server]) -> None:
    from sgl_notebook.server.api import servers

    stop_all(list(started.values()), 5.0)
    for thread in threads:
        thread.join(30)  # each launcher stops its own half-started server on the way out
    stop_all([s for s in started.values() if s in servers()], 5.0)


def _worker_failure(names: Sequence[str], failures: dict[int, BaseException]) -> BaseException:
    index = min(failures)
    error = failures[index]
    if not isinstance(error, LaunchError):
        return error
    others = f" ({len(failures) - 1} more workers failed too)" if len(failures) > 1 else ""
    failed = type(error)(f"worker {names[index]} failed: {error.reason}{others}; "
                         "every worker started so far was stopped",
                         error.log_tail, hint=error.hint)
    return failed


def router(servers: Sequence[Server | str], *, policy: str = "cache_aware",
           name: str | None = None, host: str = "127.0.0.1", port: int | None = None,
           api_key: str | None = None, timeout: float = 120.0,
           on_phase: Callable[[Any], None] | None = None) -> Router:
    """SGLang's router in front of servers that already run: ``Server`` s (launched or
    connected) or URLs (connected here, e.g. workers on other machines). Stopping the router
    never stops them.

    >>> r = router([server_a, "http://10.0.0.7:30000"], policy="round_robin")  # doctest: +SKIP
    """
    if isinstance(servers, (str, Server)) or not servers:
        raise ValueError("router() takes a list of servers or URLs, e.g. router([a, b])")
    check_policy(policy, len(servers))
    check_router_installed(_own_python())
    from sgl_notebook.server.api import connect

    workers: list[Server] = []
    connected: list[Server] = []
    try:
        for item in servers:
            if isinstance(item, Server):
                if item.managed and not item.is_alive():
                    raise SglNotebookError(f"server {item.name!r} is not running")
                workers.append(item)
            elif isinstance(item, str):
                server = connect(item, api_key=api_key)
                connected.append(server)
                workers.append(server)
            else:
                raise TypeError(f"router() takes Server objects or URLs, not {type(item).__name__}")
        start = {"host": host, "port": port, "api_key": api_key, "timeout": timeout}
        return _start_router_for(workers, connected, policy=policy, name=name,
                                 model=workers[0].model, start=start, on_phase=on_phase)
    except BaseException:
        stop_all(connected, 5.0)  # connected ones are only forgotten
        raise
