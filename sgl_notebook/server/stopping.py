"""What a stop leaves behind, for people: why a server no longer runs, and where a copy of its
log may go (checked before anything stops)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from sgl_notebook.server.errors import SglNotebookError

__all__ = ["why_stopped", "log_target"]


def why_stopped(name: str, exit_code: int | None, note: dict[str, Any] | None) -> str:
    """What happened to a server that no longer runs, for people.

    >>> why_stopped("live", -15, {"by": "JupyterLab", "at": 0.0})
    "server 'live' was stopped from JupyterLab"
    >>> why_stopped("live", -9, None)
    "server 'live' was killed by SIGKILL (exit code -9), not by sgl-notebook"
    """
    if note is not None:
        return f"server {name!r} was stopped from {note['by']}"
    if exit_code is not None and exit_code < 0:
        try:
            signame = signal.Signals(-exit_code).name
        except ValueError:
            signame = f"signal {-exit_code}"
        return (
            f"server {name!r} was killed by {signame} (exit code {exit_code}), "
            "not by sgl-notebook"
        )
    return f"server {name!r} exited on its own (exit code {exit_code})"


def log_target(path: str | os.PathLike[str]) -> Path:
    """Where a log copy goes: a file path whose folder exists (checked before anything stops)."""
    target = Path(path).expanduser()
    try:
        is_folder, folder_exists = target.is_dir(), target.parent.is_dir()
    except OSError as exc:  # a name too long, say
        raise SglNotebookError(f"cannot save the log to {str(target)!r}: {exc}") from None
    if is_folder:
        raise SglNotebookError(f"{str(target)!r} is a folder; give a file name for the log")
    if not folder_exists:
        raise SglNotebookError(
            f"cannot save the log to {str(target)!r}: that folder does not exist"
        )
    return target
