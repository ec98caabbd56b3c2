"""One answer read off the wire as events: :class:`EventStream` (sync) and :func:`aread_events`.

The request is sent on the first ``next()``, so a reader thread (the magics') does the waiting.
An SSE body is decoded as it arrives (:mod:`sgl_notebook.protocol.sse`); a body sent with
``"stream": false`` is one whole answer, decoded to the same events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from sgl_notebook.client.decoders import Answer, StreamEvent
from sgl_notebook.client.errors import ServerConnectionError, ServerHTTPError
from sgl_notebook.protocol.sse import aiter_events, iter_events

__all__ = ["CONNECT_TIMEOUT_S", "EventStream", "aread_events", "stream_timeout"]

CONNECT_TIMEOUT_S = 10.0


def stream_timeout(timeout: Any) -> Any:
    """httpx's timeout for a stream: ``None`` waits for reads as long as the answer takes (an
    answer may stream for minutes) but connects within :data:`CONNECT_TIMEOUT_S`."""
    return httpx.Timeout(None, connect=CONNECT_TIMEOUT_S) if timeout is None else timeout


def _broken(http: httpx.Client | httpx.AsyncClient, exc: Exception, answer: Answer) -> Exception:
    return ServerConnectionError(str(http.base_url).rstrip("/"), exc, started=answer.started)


def _status_error(response: httpx.Response) -> ServerHTTPError:
    return ServerHTTPError(response.status_code, response.text, str(response.url))


class EventStream:
    """The events of one answer, read as they arrive; iterate it once.

    ``close()`` (from any thread, e.g. after an interrupt) ends the read; a stream read to its
    end closes itself. Transport failures raise :class:`ServerConnectionError`.
    """

    def __init__(
        self, http: httpx.Client, answer: Answer, body: dict[str, Any], timeout: Any
    ) -> None:
        self._response: httpx.Response | None = None
        self._closed = False
        self._events = self._read(http, answer, body, timeout)

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> StreamEvent:
        return next(self._events)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        response = self._response
        if response is not None:
            response.close()

    def _read(
        self, http: httpx.Client, answer: Answer, body: dict[str, Any], timeout: Any
    ) -> Iterator[StreamEvent]:
        if self._closed:
            return
        try:
            request = http.build_request("POST", answer.path, json=body, timeout=timeout)
            self._response = response = http.send(request, stream=True)
            try:
                if self._closed:  # closed while the request was on its way
                    return
                if response.status_code >= 400:
                    response.read()
                    raise _status_error(response)
                if not body.get("stream"):
                    response.read()
                    yield from answer.events(response.json())
                    return
                for payload in iter_events(response.iter_bytes()):
                    yield from answer.events(payload)
            finally:
                response.close()
        except (httpx.TransportError, httpx.StreamError) as exc:
            if self._closed:  # closed on purpose: the read simply ends
                return
            if isinstance(exc, httpx.StreamError):
                raise
            raise _broken(http, exc, answer) from exc


async def aread_events(
    http: httpx.AsyncClient, answer: Answer, body: dict[str, Any], timeout: Any
) -> AsyncIterator[StreamEvent]:
    """The async :class:`EventStream`: an async generator (``aclose()`` ends the read)."""
    try:
        async with http.stream("POST", answer.path, json=body, timeout=timeout) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _status_error(response)
            if not body.get("stream"):
                await response.aread()
                for event in answer.events(response.json()):
                    yield event
                return
            async for payload in aiter_events(response.aiter_bytes()):
                for event in answer.events(payload):
                    yield event
    except httpx.TransportError as exc:
        raise _broken(http, exc, answer) from exc
