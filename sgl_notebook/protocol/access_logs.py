"""Uvicorn access lines (SGLang's, vLLM's, plain uvicorn's) as :class:`AccessLine` records.

Pure and stdlib only. SGLang reformats uvicorn's access logger with its timestamp
(``[2025-07-28 04:59:51] INFO:     127.0.0.1:51234 - "POST /generate HTTP/1.1" 200 OK``);
vLLM prefixes the process (``(APIServer pid=1) INFO:     127.0.0.1:33490 - "GET /health
HTTP/1.1" 200 OK``); plain uvicorn prints neither.

>>> r = parse_access_line('[2025-07-28 04:59:51] INFO:     127.0.0.1:51234 - '
...                       '"POST /generate HTTP/1.1" 200 OK')
>>> (r.method, r.path, r.status, r.timestamp.second)
('POST', '/generate', 200, 51)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sgl_notebook.protocol.logs import parse_sglang_timestamp

__all__ = ["AccessLine", "GENERATION_PATHS", "parse_access_line"]

# The endpoints whose requests are generations; their access lines feed the request counter.
GENERATION_PATHS = frozenset({"/generate", "/v1/chat/completions", "/v1/completions"})

_ACCESS = re.compile(
    r'(?:(?P<client>\S+) - )?"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/(?P<version>[\d.]+)" '
    r"(?P<status>\d{3})"
)


@dataclass(slots=True)
class AccessLine:
    """One HTTP access line: ``kind`` is ``"access"``; ``path`` has the query string removed."""

    kind: str
    timestamp: datetime | None
    raw: Mapping[str, str] = field(default_factory=dict)
    method: str = ""
    path: str = ""
    status: int = 0
    client: str = ""

    @property
    def is_generation(self) -> bool:
        """True for a request to /generate, /v1/chat/completions or /v1/completions."""
        return self.path in GENERATION_PATHS


def parse_access_line(line: str) -> AccessLine | None:
    """An uvicorn access line -> :class:`AccessLine`, else None."""
    at = line.find(" HTTP/")
    if at < 0:
        return None
    # Plain string slicing around ' HTTP/' (cheaper than a regex search from every position).
    quote = line.rfind('"', 0, at)
    if quote < 0:
        return None
    method, space, target = line[quote + 1 : at].partition(" ")
    close = line.find('" ', at)
    if not space or not method.isupper() or " " in target or close < 0:
        return _parse_access_regex(line)
    version = line[at + 6 : close]
    status_text = line[close + 2 : close + 5]
    if not status_text.isdigit():
        return None
    prefix = line[:quote]
    client = ""
    if prefix.endswith(" - "):
        client = prefix[:-3].rpartition(" ")[2]
    timestamp = None
    bracket = prefix.find("] ")
    if bracket > 0:
        timestamp, _ = parse_sglang_timestamp(prefix[: bracket + 2])
    raw = {"method": method, "target": target, "version": version, "status": status_text}
    if client:
        raw["client"] = client
    # positional (kind, timestamp, raw, method, path, status, client)
    return AccessLine(
        "access", timestamp, raw, method, target.split("?", 1)[0], int(status_text), client
    )


def _parse_access_regex(line: str) -> AccessLine | None:
    """The careful path, for lines the fast path did not recognise."""
    match = _ACCESS.search(line)
    if match is None:
        return None
    prefix = line[: match.start()]
    timestamp = None
    bracket = prefix.find("] ")
    if bracket > 0:
        timestamp, _ = parse_sglang_timestamp(prefix[: bracket + 2])
    raw = {k: v for k, v in match.groupdict().items() if v is not None}
    target = match.group("target")
    return AccessLine(
        kind="access",
        timestamp=timestamp,
        raw=raw,
        method=match.group("method"),
        path=target.split("?", 1)[0],
        status=int(match.group("status")),
        client=match.group("client") or "",
    )
