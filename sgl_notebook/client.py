"""An httpx client for one SGLang-protocol server: SGLang, the CPU engine, vLLM (OpenAI part).

Sync and async, streaming over SSE, API key, and an injectable ``transport=`` for tests.

>>> client = SglClient("http://127.0.0.1:30000")            # doctest: +SKIP
>>> client.generate("The capital of France is", max_new_tokens=8).text  # doctest: +SKIP
' Paris.'
>>> for delta in client.generate("Count:", stream=True, max_new_tokens=8):  # doctest: +SKIP
...     print(delta, end="")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sgl_notebook.protocol.sse import DONE, decode_data_line

__all__ = ["SglClient", "GenerateResult", "ChatResult", "ServerHTTPError", "as_messages"]

Messages = Sequence[Mapping[str, Any]]


class ServerHTTPError(RuntimeError):
    """The server answered with an error status; ``status`` and ``body`` say which."""

    def __init__(self, status: int, body: str, url: str) -> None:
        self.status = status
        self.body = body
        self.url = url
        hint = " (wrong or missing API key?)" if status == 401 else ""
        super().__init__(f"{url} answered HTTP {status}{hint}: {body[:500]}")


@dataclass(frozen=True)
class GenerateResult:
    """A native ``/generate`` answer: the text and SGLang's ``meta_info``."""

    text: str
    meta_info: dict[str, Any] = field(default_factory=dict)

    @property
    def finish_reason(self) -> str | None:
        reason = self.meta_info.get("finish_reason")
        return reason.get("type") if isinstance(reason, dict) else reason

    @property
    def usage(self) -> dict[str, Any]:
        keys = ("prompt_tokens", "completion_tokens", "cached_tokens")
        return {k: self.meta_info[k] for k in keys if k in self.meta_info}

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ChatResult:
    """An OpenAI-style chat (or completion) answer: the text, finish reason, usage, raw JSON."""

    text: str
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.text


def as_messages(
    messages_or_text: str | Messages, system: str | None = None
) -> list[dict[str, Any]]:
    """A prompt string or a message list -> a message list (with an optional system prompt)."""
    if isinstance(messages_or_text, str):
        messages: list[dict[str, Any]] = [{"role": "user", "content": messages_or_text}]
    else:
        messages = [dict(m) for m in messages_or_text]
    if system is not None and not (messages and messages[0].get("role") == "system"):
        messages.insert(0, {"role": "system", "content": system})
    return messages


_SAMPLING_TOP_LEVEL = {
    "return_logprob", "logprob_start_len", "top_logprobs_num", "return_text_in_logprobs",
    "rid", "image_data", "lora_path", "input_ids", "custom_logit_processor",
}


def _generate_payload(prompt: Any, stream: bool, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    sampling = dict(kwargs.get("sampling_params") or {})
    payload: dict[str, Any] = {}
    if prompt is not None:
        payload["text"] = prompt
    for key, value in kwargs.items():
        if key == "sampling_params":
            continue
        if key in _SAMPLING_TOP_LEVEL:
            payload[key] = value
        else:
            sampling[key] = value
    payload["sampling_params"] = sampling
    if stream:
        payload["stream"] = True
    return payload


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

    def _stream_events(self, path: str, payload: Any) -> Iterator[Any]:
        with self._http.stream("POST", path, json=payload) as response:
            self._check(response)
            for line in response.iter_lines():
                event = decode_data_line(line)
                if event is None:
                    continue
                if event == DONE:
                    return
                yield event

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

    def abort(self, rid: str = "", abort_all: bool = False) -> None:
        """``POST /abort_request`` (SGLang matches ``rid`` by prefix)."""
        self._check(self._http.post("/abort_request", json={"rid": rid, "abort_all": abort_all}))

    # -- generation -----------------------------------------------------------------------

    def generate(self, prompt: Any = None, *, stream: bool = False, **kwargs: Any) -> Any:
        """Native ``/generate``. Sampling keys (``max_new_tokens=8``...) go in sampling_params.

        Returns a :class:`GenerateResult` (a list of them for a batch), or with ``stream=True``
        an iterator of text deltas.
        """
        payload = _generate_payload(prompt, stream, kwargs)
        if stream:
            return self._generate_deltas(payload)
        data = self._post_json("/generate", payload)
        if isinstance(data, list):
            return [GenerateResult(d.get("text", ""), d.get("meta_info", {})) for d in data]
        return GenerateResult(data.get("text", ""), data.get("meta_info", {}))

    def _generate_deltas(self, payload: dict[str, Any]) -> Iterator[str]:
        seen = 0  # SGLang streams cumulative text
        for event in self._stream_events("/generate", payload):
            text = event.get("text", "")
            if len(text) > seen:
                yield text[seen:]
                seen = len(text)

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
            payload["stream"] = True
            return self._openai_deltas("/v1/chat/completions", payload, chat=True)
        data = self._post_json("/v1/chat/completions", payload)
        choice = data["choices"][0]
        return ChatResult(
            choice["message"].get("content") or "", choice.get("finish_reason"),
            data.get("usage") or {}, data.get("model"), data,
        )

    def completions(self, prompt: str, *, stream: bool = False, model: str | None = None,
                    **kwargs: Any) -> Any:
        """``/v1/completions``; a :class:`ChatResult`, or text deltas with ``stream=True``."""
        payload = {"model": model or "default", "prompt": prompt, **kwargs}
        if stream:
            payload["stream"] = True
            return self._openai_deltas("/v1/completions", payload, chat=False)
        data = self._post_json("/v1/completions", payload)
        choice = data["choices"][0]
        return ChatResult(choice.get("text", ""), choice.get("finish_reason"),
                          data.get("usage") or {}, data.get("model"), data)

    def _openai_deltas(self, path: str, payload: dict[str, Any], chat: bool) -> Iterator[str]:
        for event in self._stream_events(path, payload):
            for choice in event.get("choices") or []:
                text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                if text:
                    yield text

    # -- async ----------------------------------------------------------------------------

    async def agenerate(self, prompt: Any = None, **kwargs: Any) -> Any:
        """Async native ``/generate`` (non-streaming)."""
        async with self.async_http() as http:
            response = await http.post("/generate", json=_generate_payload(prompt, False, kwargs))
            if response.status_code >= 400:
                raise ServerHTTPError(response.status_code, response.text, str(response.url))
            data = response.json()
        if isinstance(data, list):
            return [GenerateResult(d.get("text", ""), d.get("meta_info", {})) for d in data]
        return GenerateResult(data.get("text", ""), data.get("meta_info", {}))

    async def agenerate_stream(self, prompt: Any = None, **kwargs: Any) -> AsyncIterator[str]:
        """Async streaming ``/generate``: yields text deltas."""
        payload = _generate_payload(prompt, True, kwargs)
        seen = 0
        async with self.async_http() as http, http.stream("POST", "/generate", json=payload) as r:
            if r.status_code >= 400:
                await r.aread()
                raise ServerHTTPError(r.status_code, r.text, str(r.url))
            async for line in r.aiter_lines():
                event = decode_data_line(line)
                if event is None:
                    continue
                if event == DONE:
                    return
                text = event.get("text", "")
                if len(text) > seen:
                    yield text[seen:]
                    seen = len(text)

    async def achat(self, messages_or_text: str | Messages, **kwargs: Any) -> ChatResult:
        """Async ``/v1/chat/completions`` (non-streaming)."""
        system = kwargs.pop("system", None)
        payload = {"model": kwargs.pop("model", None) or "default",
                   "messages": as_messages(messages_or_text, system), **kwargs}
        async with self.async_http() as http:
            response = await http.post("/v1/chat/completions", json=payload)
            if response.status_code >= 400:
                raise ServerHTTPError(response.status_code, response.text, str(response.url))
            data = response.json()
        choice = data["choices"][0]
        return ChatResult(choice["message"].get("content") or "", choice.get("finish_reason"),
                          data.get("usage") or {}, data.get("model"), data)

    def __repr__(self) -> str:
        return f"SglClient({self.base_url!r}, api_key={'***' if self.api_key else None})"
