"""Jupyter server extension: authenticated REST over the sgl-notebook server registry.

Enabled on install by ``etc/jupyter/jupyter_server_config.d/sgl_notebook.json``; the lab
extension (``sgl_notebook/labextension``, installed as shared data) is its only client.
"""

from __future__ import annotations

from typing import Any

__all__ = ["_jupyter_server_extension_points", "_load_jupyter_server_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "sgl_notebook.jupyter_server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "../labextension", "dest": "sgl-notebook"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Mount the REST handlers (imported here so ``import sgl_notebook`` stays light)."""
    from sgl_notebook.jupyter_server.handlers import API_ROOT, setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("sgl-notebook: REST API mounted at /%s/", API_ROOT)


# Older jupyter_server/notebook versions look for the name without the leading underscore.
load_jupyter_server_extension = _load_jupyter_server_extension
