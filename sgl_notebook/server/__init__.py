"""Server processes: launch, connect, stop, registry, watchdog (no IPython here).

Light to import: ``python -m sgl_notebook.server.watchdog`` and the CLI load only what they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["launch", "connect", "servers", "router", "Server", "SglNotebookError", "LaunchError"]

_LAZY = {
    "launch": "sgl_notebook.server.api",
    "connect": "sgl_notebook.server.api",
    "servers": "sgl_notebook.server.api",
    "router": "sgl_notebook.server.api",
    "Server": "sgl_notebook.server.server",
    "SglNotebookError": "sgl_notebook.server.errors",
    "LaunchError": "sgl_notebook.server.errors",
}

if TYPE_CHECKING:  # pragma: no cover
    from sgl_notebook.server.api import connect, launch, router, servers
    from sgl_notebook.server.errors import LaunchError, SglNotebookError
    from sgl_notebook.server.server import Server


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sgl_notebook.server' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
