"""The server's own load report: what runs *now*, which the log alone cannot say.

SGLang logs a decode line only every 40 decode steps and nothing at all when it goes idle, so
the last logged "1 running · 2.8 token/s" would stay on screen forever. The load report fills
that gap (reference §3.5):

* SGLang 0.5.23 ``GET /v1/loads``: per-DP ``num_running_reqs``, ``num_waiting_reqs``,
  ``num_used_tokens``, ``token_usage``, ``gen_throughput``, ``cache_hit_rate`` and, with
  speculative decoding, ``speculative.accept_length`` / ``accept_rate``;
* SGLang 0.4.10 ``GET /get_load``: ``{"load": tokens}`` (KV tokens held by live requests plus the
  waiting queue's prompt tokens: 0 means idle), with ``last_gen_throughput`` from
  ``/get_server_info``'s ``internal_states`` while busy; the 0.5 line before ``/v1/loads``
  answered a list of ``{"num_reqs", "num_waiting_reqs", "num_tokens"}``;
* vLLM: the ``vllm:num_requests_running`` / ``num_requests_waiting`` / ``kv_cache_usage_perc``
  gauges of ``/metrics`` (updated every engine step).

The parsers are pure; :class:`LoadProbe` asks over httpx (imported when used) and remembers
which route the server has. Callers decide when to ask: at most once a second, only while
something shows the numbers.

>>> report = parse_load({"loads": [{"num_running_reqs": 0, "num_waiting_reqs": 0,
...                                 "token_usage": 0.0, "gen_throughput": 0.0}]}, "/v1/loads")
>>> report.idle, report.running_req
(True, 0)
>>> parse_load({"load": 0}, "/get_load").idle
True
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "MIN_POLL_INTERVAL_S",
    "LoadProbe",
    "LoadReport",
    "parse_load",
    "parse_token_count",
    "parse_vllm_gauges",
]

MIN_POLL_INTERVAL_S = 1.0  # never ask a server more often than this


@dataclass(frozen=True, slots=True)
class LoadReport:
    """One answer of a server's load route; None where the route does not say.

    ``load_tokens`` is SGLang 0.4.10's single number; ``source`` the route that answered.
    """

    time: datetime
    source: str
    running_req: int | None = None
    queue_req: int | None = None
    num_token: int | None = None
    token_usage: float | None = None
    gen_throughput: float | None = None
    cache_hit_rate: float | None = None
    accept_len: float | None = None
    accept_rate: float | None = None
    load_tokens: int | None = None

    @property
    def idle(self) -> bool:
        """True when the server says nothing runs and nothing waits."""
        if self.running_req is not None:
            return self.running_req == 0 and not self.queue_req
        return self.load_tokens == 0


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _sum(rows: list[Mapping[str, Any]], key: str) -> int | None:
    values = [_count(row.get(key)) for row in rows]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _mean(rows: list[Mapping[str, Any]], key: str) -> float | None:
    known = [v for v in (_number(row.get(key)) for row in rows) if v is not None]
    return sum(known) / len(known) if known else None


def _v1_loads(rows: list[Mapping[str, Any]], when: datetime, source: str) -> LoadReport:
    speculative = [r["speculative"] for r in rows if isinstance(r.get("speculative"), Mapping)]
    return LoadReport(
        when,
        source,
        running_req=_sum(rows, "num_running_reqs"),
        queue_req=_sum(rows, "num_waiting_reqs"),
        num_token=_sum(rows, "num_used_tokens"),
        token_usage=_mean(rows, "token_usage"),
        gen_throughput=(
            sum(v for v in (_number(r.get("gen_throughput")) for r in rows) if v is not None)
            if any(_number(r.get("gen_throughput")) is not None for r in rows)
            else None
        ),
        cache_hit_rate=_mean(rows, "cache_hit_rate"),
        accept_len=_mean(speculative, "accept_length"),
        accept_rate=_mean(speculative, "accept_rate"),
    )


def parse_load(data: Any, source: str, when: datetime | None = None) -> LoadReport | None:
    """A load route's JSON -> :class:`LoadReport`, or None for a shape no SGLang answers."""
    when = when or datetime.now()
    if isinstance(data, Mapping) and isinstance(data.get("loads"), list):  # /v1/loads
        rows = [row for row in data["loads"] if isinstance(row, Mapping)]
        return _v1_loads(rows, when, source) if rows else None
    if isinstance(data, Mapping) and "load" in data:  # 0.4.10 /get_load
        tokens = _count(data.get("load"))
        return LoadReport(when, source, load_tokens=tokens) if tokens is not None else None
    if isinstance(data, list) and data and all(isinstance(row, Mapping) for row in data):
        if any("num_running_reqs" in row for row in data):
            return _v1_loads(list(data), when, source)
        if any("num_reqs" in row for row in data):  # the 0.5 line's /get_load
            running = _sum(data, "num_reqs")
            waiting = _sum(data, "num_waiting_reqs") or 0
            # num_reqs counts running and waiting requests together
            return LoadReport(
                when,
                source,
                running_req=None if running is None else max(0, running - waiting),
                queue_req=waiting,
                num_token=_sum(data, "num_tokens"),
            )
    return None


def server_info_throughput(data: Any) -> float | None:
    """``last_gen_throughput`` summed over ``/get_server_info``'s ``internal_states``."""
    states = data.get("internal_states") if isinstance(data, Mapping) else None
    if not isinstance(states, list):
        return None
    values = [_number(s.get("last_gen_throughput")) for s in states if isinstance(s, Mapping)]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


_VLLM_GAUGES = {
    "vllm:num_requests_running": "running_req",
    "vllm:num_requests_waiting": "queue_req",
    "vllm:kv_cache_usage_perc": "token_usage",
    "vllm:gpu_cache_usage_perc": "token_usage",  # before vLLM 0.9
}


def parse_vllm_gauges(text: str, when: datetime | None = None) -> LoadReport | None:
    """vLLM's ``/metrics`` text -> a report from its live gauges (summed over engines)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        field_name = _VLLM_GAUGES.get(name)
        if field_name is None:
            continue
        try:
            value = float(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        values[field_name] = values.get(field_name, 0.0) + value
    if "running_req" not in values:
        return None
    return LoadReport(
        when or datetime.now(),
        "/metrics",
        running_req=int(values["running_req"]),
        queue_req=int(values.get("queue_req", 0)),
        token_usage=values.get("token_usage"),
    )


# Histograms observed once per generated token as it streams (the first in TTFT, the rest in
# ITL): their counts grow live, where the token counters only grow when a request finishes.
_TOKEN_COUNTS = (
    "sglang:time_to_first_token_seconds_count",
    "sglang:inter_token_latency_seconds_count",
    "vllm:time_to_first_token_seconds_count",
    "vllm:inter_token_latency_seconds_count",
)


def parse_token_count(text: str) -> float | None:
    """Tokens streamed so far, from ``/metrics`` text: the TTFT and ITL histogram counts.

    >>> parse_token_count('sglang:inter_token_latency_seconds_count{model_name="m"} 41.0')
    41.0
    """
    total, seen = 0.0, False
    for line in text.splitlines():
        if not line.endswith(("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in _TOKEN_COUNTS:
            try:
                total += float(line.rsplit(" ", 1)[1])
                seen = True
            except (IndexError, ValueError):
                continue
    return total if seen else None


# The routes to try, in order, per engine; the first that answers is kept.
ROUTES = {"vllm": ("/metrics",), "default": ("/v1/loads", "/get_load")}


class LoadProbe:
    """Asks one server for its load, at most once per ``min_interval`` seconds.

    ``available`` is None until a route answered, then True; False once every route said 404
    (an old server: later calls return None without asking). ``polls`` counts HTTP requests.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        engine: str = "sglang",
        timeout: float = 1.0,
        min_interval: float = MIN_POLL_INTERVAL_S,
        transport: Any = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.min_interval = min_interval
        self.transport = transport
        self.routes = list(ROUTES["vllm" if engine == "vllm" else "default"])
        self.available: bool | None = None
        self.polls = 0
        self.last: LoadReport | None = None
        self._asked_at: float | None = None
        self._client: Any = None

    def due(self, now: float | None = None) -> bool:
        """True when ``min_interval`` passed since the last ask (and a route may answer)."""
        if self.available is False:
            return False
        now = time.monotonic() if now is None else now
        return self._asked_at is None or now - self._asked_at >= self.min_interval

    def _get(self, path: str) -> Any:
        import httpx

        if self._client is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._client = httpx.Client(
                timeout=self.timeout, headers=headers, transport=self.transport
            )
        self.polls += 1
        return self._client.get(self.url + path)

    def poll(self) -> LoadReport | None:
        """Ask now if due; the new report, or None (not due, no route, server unreachable)."""
        if not self.due():
            return None
        self._asked_at = time.monotonic()
        import httpx

        while self.routes:
            path = self.routes[0]
            try:
                response = self._get(path)
            except httpx.HTTPError:
                return None
            if response.status_code in (404, 405):
                self.routes.pop(0)
                continue
            if response.status_code != 200:
                return None
            report = self._read(path, response)
            if report is None:  # a route of another shape: try the next one
                self.routes.pop(0)
                continue
            self.available = True
            self.last = report
            return report
        self.available = False
        return None

    def _read(self, path: str, response: Any) -> LoadReport | None:
        if path == "/metrics":
            return parse_vllm_gauges(response.text)
        try:
            report = parse_load(response.json(), path)
        except ValueError:
            return None
        if report is not None and path == "/get_load" and report.load_tokens and not report.idle:
            # 0.4.10 says only "busy": its last decode figure comes with the internal states
            try:
                info = self._get("/get_server_info")
                rate = server_info_throughput(info.json()) if info.status_code == 200 else None
            except (ValueError, Exception):  # noqa: BLE001 -- the load alone still counts
                rate = None
            if rate is not None:
                report = LoadReport(**{**_fields(report), "gen_throughput": rate})
        return report

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _fields(report: LoadReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in LoadReport.__slots__}
