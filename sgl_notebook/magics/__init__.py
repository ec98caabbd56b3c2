"""``%load_ext sgl_notebook``: the ``%sgl`` / ``%%sgl`` magics and the display formatters.

IPython is imported only when the extension loads, never by ``import sgl_notebook``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register ``SglMagics`` (a configurable too: ``%config SglMagics``) and the renderers."""
    from sgl_notebook.display.formatters import register_formatters
    from sgl_notebook.magics.core import SglMagics

    magics = SglMagics(shell=ipython)  # Magics.__init__ adds it to shell.configurables
    ipython.register_magics(magics)
    register_formatters(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from sgl_notebook.display.formatters import unregister_formatters
    from sgl_notebook.magics.core import SglMagics

    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, SglMagics)]
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("sgl", None)
    unregister_formatters(ipython)
