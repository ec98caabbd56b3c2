"""Reading server logs from Jupyter: the last N lines, and stats followed incrementally.

:func:`tail_lines` reads backwards from the end, so a long log costs only its last blocks.
:class:`LogStatsFollower` remembers its file offset: each poll parses only the bytes appended
since the previous one (the first poll starts at most :data:`FIRST_READ_BYTES` from the end).

>>> follower = LogStatsFollower("/nonexistent.log")
>>> follower.poll(now=100.0)["gen_throughput"] is None
True
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = [
    "FIRST_READ_BYTES",
    "HISTORY_POINTS",
    "IDLE_AFTER_S",
    "POLLING_PATHS",
    "LogStatsFollower",
    "is_polling_line",
    "tail_lines",
    "tail_without_polling",
]

# What the toolkit itself polls (dashboard, sidebar, launcher, load reports): their access lines
# would bury the server's own lines in the sidebar's tail.
POLLING_PATHS = frozenset(
    {"/metrics", "/get_load", "/v1/loads", "/health", "/health_generate", "/get_server_info",
     "/server_info", "/get_model_info", "/model_info"}
)

FIRST_READ_BYTES = 256 * 1024  # a server's first poll reads at most this much of an old log
HISTORY_POINTS = 60  # throughput points kept for the sparkline
IDLE_AFTER_S = 15.0  # no decode line for this long: the server is idle (0 tok/s, 0 running)
_BLOCK = 16 * 1024

ParseLine = Callable[[str, str], Any]


def tail_lines(path: str, n: int, *, redact: str | None = None) -> list[str]:
    """The last ``n`` lines of a text file (without newlines); [] when it does not exist.

    ``redact``: a secret (an API key) replaced by ``***`` wherever it appears.
    """
    if n <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            data = b""
            pos = end
            # one more newline than lines wanted, or the start of the file
            while pos > 0 and data.count(b"\n") <= n:
                step = min(_BLOCK, pos)
                pos -= step
                handle.seek(pos)
                data = handle.read(step) + data
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if pos > 0 and lines:
        lines = lines[1:]  # the first one is cut
    lines = lines[-n:]
    if any("\x1b" in line for line in lines):  # SGLang's router always logs in colour
        from sgl_notebook.protocol.router_logs import strip_ansi

        lines = [strip_ansi(line) for line in lines]
    if redact:
        lines = [line.replace(redact, "***") for line in lines]
    return lines


def is_polling_line(line: str) -> bool:
    """An access line of a GET the toolkit polls (``GET /metrics``, ``GET /get_load``, ...).

    >>> is_polling_line('INFO:     127.0.0.1:5 - "GET /metrics HTTP/1.1" 200 OK')
    True
    >>> is_polling_line('INFO:     127.0.0.1:5 - "POST /generate HTTP/1.1" 200 OK')
    False
    """
    if '"GET /' not in line:
        return False
    from sgl_notebook.protocol.access_logs import parse_access_line

    record = parse_access_line(line)
    return record is not None and record.method == "GET" and record.path in POLLING_PATHS


def tail_without_polling(
    path: str, n: int, *, redact: str | None = None, scan: int = 2000
) -> tuple[list[str], int]:
    """The last ``n`` lines that are not the toolkit's polling, and how many such lines were
    skipped among the last ``scan`` lines read."""
    lines = tail_lines(path, max(n, scan), redact=redact)
    kept = [line for line in lines if not is_polling_line(line)]
    return kept[-n:], len(lines) - len(kept)


def _default_parse_line(line: str, dialect: str) -> Any:
    from sgl_notebook.stats import parse_line

    return parse_line(line, dialect)


class LogStatsFollower:
    """Latest scheduler stats of one server, from the lines appended to its log since last poll."""

    def __init__(
        self, path: str, dialect: str = "sglang", parse_line: ParseLine | None = None
    ) -> None:
        self.path = path
        self.dialect = dialect
        self._parse = parse_line or _default_parse_line
        self._offset: int | None = None  # None: never read
        self._partial = b""
        self._inode: int | None = None
        self.gen_throughput: float | None = None
        self.running_req: int | None = None
        self.queue_req: int | None = None
        self.token_usage: float | None = None
        self.cache_hit_rate: float | None = None
        self.updated_at: float | None = None
        self._last_decode_at: float | None = None
        self._cached_tokens = 0
        self._prefill_tokens = 0
        self.history: deque[tuple[float, float]] = deque(maxlen=HISTORY_POINTS)
        self.bytes_read = 0  # total bytes parsed: shows that polls are incremental

    def _read_new_bytes(self) -> bytes:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                if self._inode != stat.st_ino or (
                    self._offset is not None and stat.st_size < self._offset
                ):
                    # new or truncated/rotated file: start again
                    self._offset = None
                    self._partial = b""
                    self._inode = stat.st_ino
                if self._offset is None:
                    self._offset = max(0, stat.st_size - FIRST_READ_BYTES)
                    skip_partial_line = self._offset > 0
                else:
                    skip_partial_line = False
                handle.seek(self._offset)
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return b""
        self._offset += len(data)
        self.bytes_read += len(data)
        if skip_partial_line:
            cut = data.find(b"\n")
            data = data[cut + 1 :] if cut >= 0 else b""
        return data

    def poll(self, now: float | None = None) -> dict[str, Any]:
        """Parse what was appended since the last call; return the stats as JSON-ready values."""
        now = time.time() if now is None else now
        data = self._partial + self._read_new_bytes()
        complete, _, self._partial = data.rpartition(b"\n")
        if complete:
            for line in complete.decode("utf-8", errors="replace").splitlines():
                self._feed(line, now)
        return self.snapshot(now)

    def _feed(self, line: str, now: float) -> None:
        if " batch" not in line and "throughput" not in line:
            return  # cheap skip: only scheduler stats lines matter here
        record = self._parse(line, self.dialect)
        kind = getattr(record, "kind", None)
        if kind not in ("prefill", "decode", "vllm"):
            return
        stamp = getattr(record, "timestamp", None)
        at = stamp.timestamp() if stamp is not None else now
        self.updated_at = at
        for name in ("running_req", "queue_req", "token_usage"):
            value = getattr(record, name, None)
            if value is not None:
                setattr(self, name, value)
        if record.cache_hit_rate is not None:
            self.cache_hit_rate = record.cache_hit_rate
        elif kind == "prefill" and record.new_token is not None:
            # SGLang's prefill lines give token counts: hit rate over everything read so far
            self._cached_tokens += record.cached_token or 0
            self._prefill_tokens += (record.cached_token or 0) + record.new_token
            if self._prefill_tokens:
                self.cache_hit_rate = self._cached_tokens / self._prefill_tokens
        if record.gen_throughput is not None and kind in ("decode", "vllm"):
            self.gen_throughput = float(record.gen_throughput)
            self._last_decode_at = at
            self.history.append((at, self.gen_throughput))

    def snapshot(self, now: float) -> dict[str, Any]:
        # SGLang logs nothing while idle, so the last line's values would stay on screen forever:
        # with no decode line for IDLE_AFTER_S, nothing runs and nothing waits.
        idle = self._last_decode_at is None or now - self._last_decode_at > IDLE_AFTER_S

        def unless_idle(value: float | None) -> float | None:
            return 0 if idle and value is not None else value

        return {
            "gen_throughput": unless_idle(self.gen_throughput),
            "running_req": unless_idle(self.running_req),
            "queue_req": unless_idle(self.queue_req),
            "token_usage": self.token_usage,
            "cache_hit_rate": self.cache_hit_rate,
            "updated_at": self.updated_at,
            "history": [[t, v] for t, v in self.history],
        }
