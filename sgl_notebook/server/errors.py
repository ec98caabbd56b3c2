"""What can go wrong with a server, as a small exception hierarchy.

::

    SglNotebookError                    anything this toolkit raises on purpose
    ├── LaunchError                     the server did not come up (log tail attached)
    │   ├── ModelNotFoundError          the model path / hub id does not resolve
    │   ├── OutOfMemoryError            GPU (or host) memory ran out while loading
    │   ├── PortInUseError              the port is taken (and was asked for explicitly)
    │   ├── EngineNotInstalledError     the chosen python lacks the engine's package
    │   ├── SchedulerDiedError          the scheduler process died during start-up
    │   └── LaunchTimeoutError          no ready signal before the deadline
    ├── UnknownEngineError              ``engine=`` is not one of sglang, vllm, cpu, auto
    ├── ServerNotFoundError             no server of that name / id in the registry
    └── ServerStoppedError              the server was stopped (or died) and cannot serve this
"""

from __future__ import annotations

from collections.abc import Sequence


class SglNotebookError(Exception):
    """Base of every error sgl-notebook raises on purpose."""


class LaunchError(SglNotebookError):
    """The server did not come up. ``log_tail`` holds its last log lines."""

    def __init__(self, message: str, log_tail: Sequence[str] = (), *, hint: str = "") -> None:
        self.reason = message
        self.log_tail = list(log_tail)
        self.hint = hint
        text = message
        if hint:
            text += f"\nWhat to do: {hint}"
        if self.log_tail:
            text += "\n--- last log lines ---\n" + "\n".join(self.log_tail)
        super().__init__(text)


class ModelNotFoundError(LaunchError):
    """The model path or hub id does not resolve to a model."""


class OutOfMemoryError(LaunchError):
    """Memory ran out while loading weights, sizing the KV cache or capturing graphs."""


class PortInUseError(LaunchError):
    """The port the server should bind is taken."""


class EngineNotInstalledError(LaunchError):
    """The interpreter that should run the server cannot import the engine."""


class SchedulerDiedError(LaunchError):
    """A scheduler (or engine core) process died during start-up."""


class LaunchTimeoutError(LaunchError):
    """No ready signal before the deadline."""


class UnknownEngineError(SglNotebookError, ValueError):
    """``engine=`` names no known engine."""


class ServerNotFoundError(SglNotebookError, LookupError):
    """No server of that name or id is registered."""


class ServerStoppedError(SglNotebookError):
    """The server is stopped (idle shutdown without restart, stopped from elsewhere, or died).

    ``summary`` says what happened without a next step (callers such as the magics add their
    own), ``log_tail`` holds its last log lines when there are any.
    """

    def __init__(
        self, message: str, *, summary: str = "", log_tail: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.summary = summary or message
        self.log_tail = list(log_tail)
