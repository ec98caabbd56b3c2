"""``connect``: a ``Server`` for a server someone else runs (a remote SGLang, vLLM, ...)."""

from __future__ import annotations

import os
import time
import uuid

import httpx

from sgl_notebook.client import ServerHTTPError, SglClient
from sgl_notebook.server import live
from sgl_notebook.server.errors import SglNotebookError
from sgl_notebook.server.registry import ServerRecord, write_record
from sgl_notebook.server.server import Server

__all__ = ["connect"]


def connect(url: str, *, api_key: str | None = None, name: str | None = None) -> Server:
    """A ``Server`` for a server someone else runs (a remote SGLang, vLLM, ...).

    Checks that it answers; registers it so ``sgl-notebook ps`` and the sidebar list it.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"connect() needs an http(s) URL such as http://host:30000, got {url!r}")
    url = url.rstrip("/")
    probe = SglClient(url, api_key=api_key, timeout=10.0)
    model = ""
    try:
        try:
            model = str(probe.model_info().get("model_path", ""))
        except ServerHTTPError as error:
            if error.status == 401:
                raise SglNotebookError(
                    f"{url} rejected the API key (HTTP 401); pass api_key= the server's key"
                ) from None
            models = probe.models()
            model = models[0] if models else ""
    except httpx.HTTPError as error:
        raise SglNotebookError(f"cannot reach {url}: {error}; is the server running?") from None
    finally:
        probe.close()
    parsed = httpx.URL(url)
    record = ServerRecord(
        id=uuid.uuid4().hex[:12], name=name or f"{parsed.host}:{parsed.port or 80}",
        engine="remote", model=model, url=url, host=parsed.host, port=parsed.port or 80,
        pid=None, pgid=None, create_time=None, started_at=time.time(), log_path=None,
        owner_pid=None, owner_kernel_id=None, api_key=api_key, managed=False,
        connected_by_pid=os.getpid(),
    )
    write_record(record)
    server = Server(record)
    live.remember(server)
    return server
