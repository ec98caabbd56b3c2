"""A log-file tail for tests: feeds complete lines into a ServerStats, as a server's pump does."""

from __future__ import annotations

import threading
from pathlib import Path

from sgl_notebook.stats import ServerStats


class LogTail:
    """Follows ``path`` from a thread and feeds each complete line to ``stats``."""

    def __init__(self, path: Path, stats: ServerStats, poll: float = 0.05) -> None:
        self.path, self.stats, self.poll = path, stats, poll
        self.lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LogTail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        pending = b""
        with open(self.path, "rb") as log:
            while True:
                chunk = log.read()
                if chunk:
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    for raw in complete:
                        self.stats.feed(raw.decode("utf-8", errors="replace"))
                        self.lines += 1
                elif self._stop.is_set():
                    return
                else:
                    self._stop.wait(self.poll)

    def wait_for(self, needle: str, count: int, timeout: float = 60.0) -> None:
        """Wait until the file holds ``count`` lines containing ``needle`` and all are fed."""
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                data = self.path.read_bytes()  # bytes: tqdm's "\r" must not count as lines
                if data.count(needle.encode()) >= count and self.lines >= data.count(b"\n"):
                    return
                deadline.wait(self.poll)
        finally:
            timer.cancel()
        raise AssertionError(f"fewer than {count} {needle!r} lines fed within {timeout} s")
