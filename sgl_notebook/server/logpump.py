"""A server's stdout and stderr, pumped line by line into a bounded buffer and a log file.

Nothing reaches the notebook unless a listener puts it there. Listeners run on the pump threads
and must be quick; an exception in one is swallowed so the pump never stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["LogPump"]

LineListener = Callable[[str], None]


class LogFileGone(FileNotFoundError):
    """The server's log file was deleted (it was stopped), so there is nothing to copy."""


class LogPump:
    """Reads both pipes of ``process`` on two daemon threads."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        log_path: Path | None,
        max_lines: int = 5000,
        max_log_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._process = process
        self._buffer: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._listeners: list[LineListener] = []
        self._threads: list[threading.Thread] = []
        self.finished = threading.Event()  # both pipes reached EOF
        self.log_path = log_path
        self._log: IO[str] | None = None
        self._max_log_bytes = max_log_bytes
        self._log_bytes = 0
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._log = self._open_log(log_path)

    @staticmethod
    def _open_log(path: Path) -> IO[str]:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def _rotate(self) -> None:
        """Keep the file bounded: the current log moves to ``<name>.1`` (replacing the last)."""
        assert self._log is not None and self.log_path is not None
        self._log.close()
        os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        self._log = self._open_log(self.log_path)
        self._log_bytes = 0

    @property
    def rotated_path(self) -> Path | None:
        return None if self.log_path is None else self.log_path.with_name(self.log_path.name + ".1")

    def add_listener(self, listener: LineListener) -> Callable[[], None]:
        """Call ``listener(line)`` for every future line; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def start(self) -> None:
        for stream in (self._process.stdout, self._process.stderr):
            if stream is None:
                continue
            thread = threading.Thread(target=self._pump, args=(stream,), daemon=True,
                                      name=f"sgl-notebook-logpump-{self._process.pid}")
            thread.start()
            self._threads.append(thread)
        if not self._threads:
            self.finished.set()

    def lines(self, n: int | None = None) -> list[str]:
        """The last ``n`` lines (all buffered lines when None)."""
        with self._lock:
            items = list(self._buffer)
        return items if n is None else items[-n:] if n > 0 else []

    def feed(self, line: str) -> None:
        """Record one line (also used for the toolkit's own notes, e.g. idle shutdown)."""
        with self._lock:
            self._buffer.append(line)
            listeners = list(self._listeners)
            if self._log is not None:
                with contextlib.suppress(OSError, ValueError):
                    self._log.write(line + "\n")
                    self._log_bytes += len(line) + 1
                    if self._log_bytes > self._max_log_bytes:
                        self._rotate()
        for listener in listeners:
            with contextlib.suppress(Exception):
                listener(line)

    def _pump(self, stream: IO[str]) -> None:
        try:
            for raw in stream:
                # text mode splits on \r too, so each tqdm redraw arrives as its own line
                line = raw.rstrip("\r\n")
                if line:
                    self.feed(line)
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                stream.close()
            if all(not t.is_alive() or t is threading.current_thread() for t in self._threads):
                self.finished.set()

    def join(self, timeout: float = 2.0) -> None:
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def save(self, target: Path) -> Path:
        """Copy the whole log kept on disk (the rotated part, then the current file) to
        ``target``; raises :class:`LogFileGone` when the log file is gone, ``OSError`` when
        ``target`` cannot be written."""
        if self.log_path is None or not self.log_path.exists():
            raise LogFileGone(self.log_path)
        with self._lock:  # no line is half-written while we copy
            if self._log is not None:
                self._log.flush()
            with open(target, "wb") as out:
                for part in (self.rotated_path, self.log_path):
                    if part is not None and part.exists():
                        with open(part, "rb") as src:
                            shutil.copyfileobj(src, out)
        return target

    def close(self) -> None:
        """Wait briefly for the pipes to drain, then close the log file."""
        self.join()
        with self._lock:
            if self._log is not None:
                with contextlib.suppress(OSError):
                    self._log.close()
                self._log = None
