"""An httpx client for one SGLang-protocol server: SGLang, the CPU engine, vLLM (OpenAI part).

Sync and async, streaming over SSE, API key, and an injectable ``transport=`` for tests. Every
answer streams through :meth:`SglClient.stream` (or :meth:`SglClient.astream`): the same
:class:`~sgl_notebook.client.decoders.StreamEvent` sequence for chat, completions and native
``/generate``.

>>> client = SglClient("http://127.0.0.1:30000")            # doctest: +SKIP
>>> client.generate("The capital of France is", max_new_tokens=8).text  # doctest: +SKIP
' Paris.'
>>> for delta in client.generate("Count:", stream=True, max_new_tokens=8):  # doctest: +SKIP
...     print(delta, end="")
>>> body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
>>> for event in client.stream("chat", body):                # doctest: +SKIP
...     print(event.text, end="")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from sgl_notebook.client.decoders import Answer, StreamEvent
from sgl_notebook.client.errors import ServerHTTPError
from sgl_notebook.client.event_stream import EventStream, aread_events, stream_timeout
from sgl_notebook.client.results import (
    ChatResult,
    Messages,
    as_messages,
    chat_result,
    generate_payload,
    generate_results,
)

__all__ = ["SglClient"]


class SglClient:
    """HTTP client for one server. ``transport`` (an httpx transport) replaces the network."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | None = 600.0,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
            trust_env=False,
        )
        self._headers = headers
        self._timeout = timeout
        self._async_transport = async_transport

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SglClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            response.read()
            raise ServerHTTPError(response.status_code, response.text, str(response.url))
        return response

    def _get_json(self, path: str) -> Any:
        return self._check(self._http.get(path)).json()

    def _post_json(self, path: str, payload: Any) -> Any:
        return self._check(self._http.post(path, json=payload)).json()

    def async_http(self) -> httpx.AsyncClient:
        """A fresh ``httpx.AsyncClient`` with this client's URL, key and transport."""
        return httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers, timeout=self._timeout,
            transport=self._async_transport, trust_env=False,
        )

    # -- server state ---------------------------------------------------------------------

    def health(self, path: str = "/health") -> bool:
        """True when the server answers 200 on ``path`` (``/health_generate`` for a real probe)."""
        try:
            return self._http.get(path, timeout=5.0).status_code == 200
        except httpx.HTTPError:
            return False

    def model_info(self) -> dict[str, Any]:
        """``/get_model_info`` (SGLang 0.4.10; ``/model_info`` is tried on 404)."""
        try:
            return dict(self._get_json("/get_model_info"))
        except ServerHTTPError as error:
            if error.status != 404:
                raise
            return dict(self._get_json("/model_info"))

    def server_info(self) -> dict[str, Any]:
        """``/get_server_info`` (``/server_info`` on 404)."""
        try:
            return dict(self._get_json("/get_server_info"))
        except ServerHTTPError as error:
            if error.status != 404:
                raise
            return dict(self._get_json("/server_info"))

    def models(self) -> list[str]:
        """Model ids from ``/v1/models``."""
        return [m["id"] for m in self._get_json("/v1/models").get("data", [])]

    def flush_cache(self) -> str:
        """``POST /flush_cache``; returns the server's message."""
        return self._check(self._http.post("/flush_cache")).text

    def abort(
        self, rid: str = "", abort_all: bool = False, *, timeout: Any = httpx.USE_CLIENT_DEFAULT
    ) -> None:
        """``POST /abort_request`` (SGLang matches ``rid`` by prefix)."""
        payload = {"rid": rid, "abort_all": abort_all}
        self._check(self._http.post("/abort_request", json=payload, timeout=timeout))

    # -- streaming ------------------------------------------------------------------------

    def stream(
        self, endpoint: str, body: Mapping[str, Any], *, timeout: Any = httpx.USE_CLIENT_DEFAULT
    ) -> EventStream:
        """Send ``body`` to ``endpoint`` and read the answer as :class:`StreamEvent` s.

        ``endpoint`` is ``"chat"`` (``/v1/chat/completions``), ``"completions"`` or
        ``"generate"`` (native), or one of those paths; ``body`` is the JSON body as the server
        takes it. It streams unless the body says ``"stream": False`` (then the whole answer
        gives the same events). ``timeout``: the client's by default; ``None`` waits for the
        answer as long as it takes. The request goes out on the first ``next()``.

        Raises :class:`ServerHTTPError` (an error status), :class:`ServerStreamError` (an error
        event), :class:`ServerConnectionError` (no connection, or it broke mid-answer) and
        ``ValueError`` for an endpoint it does not know.
        """
        answer = Answer(endpoint)
        return EventStream(self._http, answer, _streaming(body), stream_timeout(timeout))

    async def astream(
        self, endpoint: str, body: Mapping[str, Any], *, timeout: Any = httpx.USE_CLIENT_DEFAULT
    ) -> AsyncIterator[StreamEvent]:
        """:meth:`stream`, async: ``async for event in client.astream("generate", body)``."""
        answer = Answer(endpoint)
        async with self.async_http() as http:
            events = aread_events(http, answer, _streaming(body), stream_timeout(timeout))
            async for event in events:
                yield event

    # -- generation -----------------------------------------------------------------------

    def generate(self, prompt: Any = None, *, stream: bool = False, **kwargs: Any) -> Any:
        """Native ``/generate``. Sampling keys (``max_new_tokens=8``...) go in sampling_params.

        Returns a :class:`GenerateResult` (a list of them for a batch), or with ``stream=True``
        an iterator of text deltas.
        """
        payload = generate_payload(prompt, stream, kwargs)
        if stream:
            return _deltas(self.stream("generate", payload))
        return generate_results(self._post_json("/generate", payload))

    def chat(
        self, messages_or_text: str | Messages, *, stream: bool = False,
        model: str | None = None, system: str | None = None, **kwargs: Any,
    ) -> Any:
        """``/v1/chat/completions``; a :class:`ChatResult`, or text deltas with ``stream=True``."""
        payload: dict[str, Any] = {
            "model": model or "default", "messages": as_messages(messages_or_text, system)
        }
        payload.update(kwargs)
        if stream:
            return _deltas(self.stream("chat", {**payload, "stream": True}))
        return chat_result(self._post_json("/v1/chat/completions", payload))

    def completions(self, prompt: str, *, stream: bool = False, model: str | None = None,
                    **kwargs: Any) -> Any:
        """``/v1/completions``; a :class:`ChatResult`, or text deltas with ``stream=True``."""
        payload = {"model": model or "default", "prompt": prompt, **kwargs}
        if stream:
            return _deltas(self.stream("completions", {**payload, "stream": True}))
        return chat_result(self._post_json("/v1/completions", payload), chat=False)

    # -- async ----------------------------------------------------------------------------

    async def agenerate(self, prompt: Any = None, **kwargs: Any) -> Any:
        """Async native ``/generate`` (non-streaming)."""
        return generate_results(await self._apost_json("/generate",
                                                       generate_payload(prompt, False, kwargs)))

    async def agenerate_stream(self, prompt: Any = None, **kwargs: Any) -> AsyncIterator[str]:
        """Async streaming ``/generate``: yields text deltas."""
        async for event in self.astream("generate", generate_payload(prompt, True, kwargs)):
            if event.text:
                yield event.text

    async def achat(self, messages_or_text: str | Messages, **kwargs: Any) -> ChatResult:
        """Async ``/v1/chat/completions`` (non-streaming)."""
        system = kwargs.pop("system", None)
        payload = {"model": kwargs.pop("model", None) or "default",
                   "messages": as_messages(messages_or_text, system), **kwargs}
        return chat_result(await self._apost_json("/v1/chat/completions", payload))

    async def _apost_json(self, path: str, payload: Any) -> Any:
        async with self.async_http() as http:
            response = await http.post(path, json=payload)
            if response.status_code >= 400:
                raise ServerHTTPError(response.status_code, response.text, str(response.url))
            return response.json()

    def __repr__(self) -> str:
        return f"SglClient({self.base_url!r}, api_key={'***' if self.api_key else None})"


def _streaming(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body to send: streaming unless it says otherwise."""
    return {"stream": True, **body}


def _deltas(events: EventStream) -> Iterator[str]:
    """The text deltas of an answer (sample 0's and any other's, as they come)."""
    with events:
        for event in events:
            if event.text:
                yield event.text
