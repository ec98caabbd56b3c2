"""sgl-notebook: run and study SGLang from Jupyter.

``import sgl_notebook`` stays light (no torch, transformers or sglang): the public names below
are resolved lazily on first use.

>>> import sgl_notebook as sn
>>> server = sn.launch()            # doctest: +SKIP  (GPU: SGLang; no GPU: the CPU engine)
>>> server.chat("What is the capital of France?")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "connect",
    "launch",
    "load_ipython_extension",
    "router",
    "servers",
    "show",
    "unload_ipython_extension",
]

# public name -> "module:attribute", imported on first access
_LAZY: dict[str, str] = {
    "launch": "sgl_notebook.server:launch",
    "connect": "sgl_notebook.server:connect",
    "servers": "sgl_notebook.server:servers",
    "router": "sgl_notebook.server:router",
    "show": "sgl_notebook.display:show",
}

if TYPE_CHECKING:  # pragma: no cover
    from sgl_notebook.display import show
    from sgl_notebook.server import connect, launch, router, servers


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'sgl_notebook' has no attribute {name!r}")
    module_name, attribute = target.split(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sgl_notebook``: register the magics and the renderers."""
    from sgl_notebook.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from sgl_notebook.magics import unload_ipython_extension as _unload

    _unload(ipython)
