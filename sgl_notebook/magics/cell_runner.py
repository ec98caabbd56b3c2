"""Send one ``%%sgl`` request and stream it into a :class:`StreamView` (the only IO of a cell).

Every mode becomes the same small :class:`StreamEvent` sequence (see :mod:`stream_events`), read
on a thread by :class:`EventPump`, so one loop drives the display. An interrupt
(KeyboardInterrupt) sends ``/abort_request`` with the rid we chose, reads the server's last
events (``finish_reason="abort"``, usage) and keeps the partial text.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sgl_notebook.display.result import SglResult
from sgl_notebook.display.stream_state import StreamProgress
from sgl_notebook.display.stream_view import ResultGroup, StreamView
from sgl_notebook.magics.errors import ServerRequestError
from sgl_notebook.magics.requests import (
    Defaults,
    chat_request,
    completion_request,
    generate_request,
)
from sgl_notebook.magics.server_reason import log_mark, with_server_reason
from sgl_notebook.magics.specs import CellSpec
from sgl_notebook.magics.stream_events import (
    StreamEvent,
    _chat_events,
    _completion_events,
    _generate_events,
    _raise_for_native,
    _sse_payloads,
)

__all__ = [
    "EventPump",
    "ServerTarget",
    "StreamEvent",
    "abort_request",
    "new_rid",
    "openai_client",
    "run_cell",
]

ABORT_DRAIN_S = 3.0  # how long an interrupted cell waits for the server's last events


@dataclass(frozen=True)
class ServerTarget:
    """Where a cell goes: base URL (no ``/v1``), API key, display name, model id."""

    url: str
    api_key: str | None = None
    name: str | None = None
    model: str | None = None
    # the server's last log lines (managed servers): where a server's real reason may be
    log_lines: Callable[[int], list[str]] | None = None


def new_rid() -> str:
    """A request id we choose, so an interrupt can abort exactly this request (prefix match)."""
    return f"sglnb-{uuid.uuid4().hex}"


@lru_cache(maxsize=16)
def openai_client(url: str, api_key: str | None) -> Any:
    """One cached ``openai.OpenAI`` per server (building one costs milliseconds)."""
    import openai

    return openai.OpenAI(
        base_url=f"{url}/v1",
        api_key=api_key or "EMPTY",
        max_retries=0,
        timeout=openai.Timeout(None, connect=10.0),  # answers may stream for minutes
    )


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def abort_request(target: ServerTarget, rid: str) -> bool:
    """``POST /abort_request {"rid": rid}``; True when the server answered 200."""
    import httpx

    try:
        response = httpx.post(
            f"{target.url}/abort_request",
            json={"rid": rid},
            headers=_headers(target.api_key),
            timeout=5.0,
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _native_payloads(
    target: ServerTarget, body: dict[str, Any], holder: list[Any]
) -> Iterator[Any]:
    import httpx

    from sgl_notebook.protocol.sse import iter_events

    client = httpx.Client(
        timeout=httpx.Timeout(None, connect=10.0),  # answers may stream for minutes
        headers=_headers(target.api_key),
    )
    holder.append(client)
    if not body["stream"]:
        response = client.post(f"{target.url}/generate", json=body)
        _raise_for_native(response.status_code, response.text)
        data = response.json()
        # a batch answer (n > 1) is a list in sample order, without "index" keys
        for index, payload in enumerate(data if isinstance(data, list) else [data]):
            yield {"index": index, **payload} if isinstance(payload, dict) else payload
        return
    with client.stream("POST", f"{target.url}/generate", json=body) as response:
        if response.status_code != 200:
            response.read()
            _raise_for_native(response.status_code, response.text)
        yield from iter_events(response.iter_lines())


# ---------------------------------------------------------------- the cell


def _open_events(
    spec: CellSpec,
    prompt: str,
    messages: list[dict[str, str]] | None,
    target: ServerTarget,
    defaults: Defaults,
    schema: dict[str, Any] | None,
    stream: bool,
    rid: str,
    closers: list[Any],
) -> Iterator[StreamEvent]:
    """Send the request and yield the events of its answer (runs on the reader thread)."""
    if spec.mode == "generate":
        body = generate_request(spec, prompt, defaults, rid=rid, schema=schema, stream=stream)
        yield from _generate_events(_native_payloads(target, body, closers))
        return
    client = openai_client(target.url, target.api_key)
    model = target.model or "default"
    if spec.mode == "chat":
        assert messages is not None
        body = chat_request(
            spec, messages, defaults, rid=rid, model=model, schema=schema, stream=stream
        )
        endpoint: Any = client.chat.completions
        to_events: Any = _chat_events
    else:
        body = completion_request(
            spec, prompt, defaults, rid=rid, model=model, schema=schema, stream=stream
        )
        endpoint, to_events = client.completions, _completion_events
    if stream:
        # the request (and its status errors) through openai; the chunks parsed as dicts
        response = endpoint.with_streaming_response.create(**body).__enter__()
        closers.append(response)
        yield from to_events(_sse_payloads(response))
    else:
        yield from to_events([endpoint.create(**body).model_dump()])


class _Failure(NamedTuple):
    error: BaseException


_END = object()


class EventPump:
    """Reads a request's events on a thread and hands them to the kernel's main thread.

    An interrupt then lands in the main thread's wait, not inside the HTTP read: the request is
    aborted and the stream read on to its end, so the result gets SGLang's
    ``finish_reason="abort"`` and the usage (prompt tokens too) the server sends last.
    """

    def __init__(self, produce: Callable[[], Iterator[StreamEvent]]) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name="sgl-cell-stream", daemon=True
        )
        self._thread.start()

    def _run(self, produce: Callable[[], Iterator[StreamEvent]]) -> None:
        try:
            for event in produce():
                self._queue.put(event)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            self._queue.put(_Failure(exc))
        finally:
            self._queue.put(_END)

    def events(self, deadline: float | None = None) -> Iterator[StreamEvent]:
        """Events until the stream ends (or ``deadline``, a ``time.monotonic()`` value, passes)."""
        get = self._queue.get
        while True:
            wait = 0.5 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                return
            try:
                item = get(timeout=min(wait, 0.5))  # short waits: an interrupt is seen at once
            except queue.Empty:
                continue
            if item is _END:
                return
            if type(item) is _Failure:
                raise item.error
            yield item


def _apply(event: StreamEvent, progress: StreamProgress, view: StreamView, stream: bool) -> None:
    if event.usage is not None:
        progress.usage = event.usage
    if event.sample_usage is not None:
        progress.set_sample_usage(event.sample, event.sample_usage)
    if event.text or event.logprobs:
        if stream:
            view.feed(event.sample, event.text, event.logprobs)
        else:
            progress.feed(event.sample, event.text, time.perf_counter(), event.logprobs)
    if event.finish_reason is not None:
        progress.finish(event.sample, event.finish_reason)


def _drain_after_abort(pump: EventPump, apply: Callable[[StreamEvent], None]) -> None:
    """The events a server still sends after ``/abort_request`` (its finish and usage)."""
    with contextlib.suppress(Exception, KeyboardInterrupt):
        for event in pump.events(deadline=time.monotonic() + ABORT_DRAIN_S):
            apply(event)


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
    import openai

    stream = defaults.stream if spec.stream is None else spec.stream
    rid = new_rid()
    closers: list[Any] = []
    if spec.mode != "generate":
        openai_client(target.url, target.api_key)  # built (once, slowly) before the clock starts
    mark = log_mark(target)
    progress = StreamProgress(n=spec.n, started_at=time.perf_counter(), streamed=stream)
    view = StreamView(
        progress, show_logprobs=spec.logprobs, max_updates_per_s=max_updates_per_s, mode=view_mode
    )
    started = False

    def apply(event: StreamEvent) -> None:
        nonlocal started
        if stream and not started:  # shown once something arrives: no empty stub on errors
            started = True
            view.start()
        _apply(event, progress, view, stream)

    interrupted = False
    pump = EventPump(
        lambda: _open_events(
            spec, prompt, messages, target, defaults, schema, stream, rid, closers
        )
    )
    try:
        try:
            for event in pump.events():
                apply(event)
        except KeyboardInterrupt:
            interrupted = True
            abort_request(target, rid)
            _drain_after_abort(pump, apply)
    except openai.APIConnectionError:
        view.discard()
        raise ServerRequestError(
            f"Cannot reach the server at {target.url}: is it running? Check with %sgl list, "
            "or start one with %sgl launch."
        ) from None
    except openai.APIStatusError as exc:
        view.discard()
        message = with_server_reason(_api_message(exc), target, mark)
        raise ServerRequestError(f"The server answered {exc.status_code}: {message}") from None
    except openai.APIError as exc:  # an error event inside the stream
        view.discard()
        message = with_server_reason(_api_message(exc), target, mark)
        raise ServerRequestError(f"The server stopped the answer: {message}") from None
    except ServerRequestError as exc:
        view.discard()
        raise ServerRequestError(with_server_reason(str(exc), target, mark)) from None
    finally:
        for closer in closers:
            _quietly_close(closer)
    if interrupted:
        progress.abort_unfinished()
    results = progress.results(
        interrupted=interrupted, rid=rid, server=target.name, model=target.model
    )
    if schema is not None:
        for result in results:
            try:
                result.json = json.loads(result.text)
            except ValueError:
                result.json = None
    if stream and started:
        view.close(results)
    else:
        from IPython.display import display

        display(ResultGroup(results))  # type: ignore[no-untyped-call]
    return results


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)
    return str(exc)


def _quietly_close(obj: Any) -> None:
    # closing a half-read stream after an interrupt may fail; the request is aborted anyway
    with contextlib.suppress(Exception):
        obj.close()
