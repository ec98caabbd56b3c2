"""Send one ``%%sgl`` request through the server's client and stream it into a view.

The body comes from :mod:`requests`; :meth:`SglClient.stream` turns every mode's answer into
the same :class:`StreamEvent` sequence, read on a thread by :class:`EventPump` so that an
interrupt (KeyboardInterrupt) lands in the kernel's wait, not inside the HTTP read: it sends
``/abort_request`` with the rid we chose, reads the server's last events
(``finish_reason="abort"``, usage) and keeps the partial text.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sgl_notebook.client import (
    ServerConnectionError,
    ServerHTTPError,
    ServerStreamError,
    SglClient,
    StreamEvent,
)
from sgl_notebook.display.result import SglResult
from sgl_notebook.magics.cell_view import CellView
from sgl_notebook.magics.errors import ServerRequestError
from sgl_notebook.magics.event_pump import EventPump, pump_events
from sgl_notebook.magics.requests import (
    Defaults,
    chat_request,
    completion_request,
    generate_request,
)
from sgl_notebook.magics.server_reason import log_mark, with_server_reason
from sgl_notebook.magics.specs import CellSpec

__all__ = ["EventPump", "ServerTarget", "StreamEvent", "new_rid", "request_body", "run_cell"]

ABORT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ServerTarget:
    """Where a cell goes: base URL (no ``/v1``), API key, display name, model id."""

    url: str
    api_key: str | None = None
    name: str | None = None
    model: str | None = None
    # the server's last log lines (managed servers): where a server's real reason may be
    log_lines: Callable[[int], list[str]] | None = None
    client: SglClient | None = None  # the server's own (else one is made for the cell)


def new_rid() -> str:
    """A request id we choose, so an interrupt can abort exactly this request (prefix match)."""
    return f"sglnb-{uuid.uuid4().hex}"


def request_body(
    spec: CellSpec,
    prompt: str,
    messages: list[dict[str, str]] | None,
    model: str,
    defaults: Defaults,
    schema: dict[str, Any] | None,
    stream: bool,
    rid: str,
) -> tuple[str, dict[str, Any]]:
    """The endpoint (a :meth:`SglClient.stream` name) and JSON body of a cell's request."""
    if spec.mode == "generate":
        return "generate", generate_request(spec, prompt, defaults, rid=rid, schema=schema,
                                            stream=stream)
    if spec.mode == "chat":
        assert messages is not None
        body = chat_request(spec, messages, defaults, rid=rid, model=model, schema=schema,
                            stream=stream)
    else:
        body = completion_request(spec, prompt, defaults, rid=rid, model=model, schema=schema,
                                  stream=stream)
    extra = body.pop("extra_body")  # the openai client's keyword: SGLang's fields, in the body
    return ("chat" if spec.mode == "chat" else "completions"), {**body, **extra}


def _failure(exc: Exception, target: ServerTarget, mark: int | None) -> str:
    """The one line a person reads when a request fails."""
    if isinstance(exc, ServerConnectionError):
        if exc.started:
            return f"The server closed the connection before the answer ended ({exc})."
        return (
            f"Cannot reach the server at {target.url}: is it running? Check with %sgl list, "
            "or start one with %sgl launch."
        )
    if isinstance(exc, ServerHTTPError):
        message = with_server_reason(exc.message, target, mark)
        return f"The server answered {exc.status}: {message}"
    return with_server_reason(str(exc), target, mark)


def run_cell(
    spec: CellSpec,
    prompt: str,
    messages: list[dict[str, str]] | None,
    target: ServerTarget,
    defaults: Defaults,
    *,
    schema: dict[str, Any] | None = None,
    max_updates_per_s: float = 20.0,
    view_mode: str | None = None,
) -> list[SglResult]:
    """Send the request, show it (live, then static), return one result per sample."""
    stream = defaults.stream if spec.stream is None else spec.stream
    rid = new_rid()
    model = target.model or "default"
    endpoint, body = request_body(spec, prompt, messages, model, defaults, schema, stream, rid)
    client = target.client or SglClient(target.url, api_key=target.api_key)
    events = client.stream(endpoint, body, timeout=None)  # no limit: answers may take minutes
    mark = log_mark(target)
    view = CellView(spec, stream, max_updates_per_s, view_mode)
    try:
        interrupted = pump_events(
            events,  # sent and read on the pump's thread
            view.apply,
            abort=lambda: client.abort(rid, timeout=ABORT_TIMEOUT_S),
        )
    except (ServerConnectionError, ServerHTTPError, ServerStreamError) as exc:
        view.discard()
        raise ServerRequestError(_failure(exc, target, mark)) from None
    finally:
        with contextlib.suppress(Exception):  # a half-read stream after an interrupt
            events.close()
        if target.client is None:
            client.close()
    results = view.results(interrupted, rid, target.name, target.model)
    if schema is not None:
        for result in results:
            try:
                result.json = json.loads(result.text)
            except ValueError:
                result.json = None
    view.show(results)
    return results
