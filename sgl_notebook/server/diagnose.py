"""Why a launch failed, read from the log tail and the exit code (pure).

>>> cls, reason, hint = classify_launch_failure(["torch.OutOfMemoryError: CUDA out of memory."], -9)
>>> cls.__name__
'OutOfMemoryError'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sgl_notebook.server.errors import (
    EngineNotInstalledError,
    LaunchError,
    ModelNotFoundError,
    OutOfMemoryError,
    PortInUseError,
    SchedulerDiedError,
)

__all__ = ["classify_launch_failure", "is_port_clash"]

_PORT_IN_USE = re.compile(r"address already in use|errno 98|port .* is (?:already )?in use", re.I)
_MODEL_NOT_FOUND = (
    "is not a local folder and is not a valid model identifier",
    "HFValidationError",
    "Repo id must be in the form",
    "RepositoryNotFoundError",
    "model not found",
    "No such file or directory",
    "does not appear to have a file named config.json",
    "Can't load the configuration of",
)
_OOM = (
    "CUDA out of memory",
    "OutOfMemoryError",
    "Not enough memory",
    "No available memory for the cache blocks",
    "MemoryError",
)
_MISSING_PACKAGE = re.compile(r"No module named '?([\w.]+)'?")
_SCHEDULER = (
    "Scheduler hit an exception",
    "scheduler is dead",
    "scheduler died during initialization",
    "Received sigquit from a child process",
    "EngineCore failed to start",
    "Engine core initialization failed",
    "Initialization failed",
)


def is_port_clash(lines: Sequence[str]) -> bool:
    """True when the log says the port could not be bound."""
    return any(_PORT_IN_USE.search(line) for line in lines)


def classify_launch_failure(
    lines: Sequence[str], returncode: int | None
) -> tuple[type[LaunchError], str, str]:
    """(error class, reason, what to do) for a failed start-up."""
    text = "\n".join(lines)
    exit_note = f" (exit code {returncode})" if returncode is not None else ""
    if any(marker in text for marker in _OOM):
        return (
            OutOfMemoryError,
            f"the server ran out of memory while starting{exit_note}",
            "lower mem_fraction_static (e.g. 0.7), use a smaller model, or stop other servers "
            "(sgl-notebook ps / stop)",
        )
    if is_port_clash(lines):
        return (
            PortInUseError,
            f"the port is already in use{exit_note}",
            "leave port= unset to get a free one, or stop what holds it",
        )
    missing = _MISSING_PACKAGE.search(text)
    if missing:
        return (
            EngineNotInstalledError,
            f"the server's python lacks the package {missing[1]!r}{exit_note}",
            f"install it in that environment (pip install {missing[1].split('.')[0]}) "
            "or pass python= an interpreter that has it",
        )
    if any(marker in text for marker in _MODEL_NOT_FOUND):
        return (
            ModelNotFoundError,
            f"the model was not found{exit_note}",
            "check the path or hub id (no download is possible offline); "
            "for the CPU engine, launch() with no model uses the bundled SmolLM2",
        )
    if any(marker in text for marker in _SCHEDULER):
        return (
            SchedulerDiedError,
            f"the scheduler died during start-up{exit_note}",
            "read the log lines below for the first error",
        )
    return (
        LaunchError,
        f"the server exited during start-up{exit_note}",
        "read the log lines below",
    )
