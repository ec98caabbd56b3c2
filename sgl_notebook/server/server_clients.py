"""How a notebook talks to a ``Server``: the toolkit's client, openai clients, the sglang
frontend backend, and ``generate``/``chat`` (which also feed short answers into the stats).

:class:`ServerClients` is the half of :class:`~sgl_notebook.server.server.Server` that sends
requests; every entry point first asks ``_ensure_running()`` (an idle-stopped server starts
again, a dead one says why it cannot serve) and carries the server's API key.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from sgl_notebook.client import SglClient
from sgl_notebook.server.registry import ServerRecord
from sgl_notebook.stats import ServerStats
from sgl_notebook.stats.answers import note_answer

__all__ = ["ServerClients", "chat_template_for"]


def chat_template_for(model: str) -> str | None:
    """The sglang frontend chat template for a model, where sglang's own guess would be wrong.

    sglang matches templates on the model path and falls back to "default" (``USER:`` /
    ``ASSISTANT:``); ChatML models such as SmolLM2 need "chatml". A local folder whose tokenizer
    config uses ``<|im_start|>`` is ChatML too. None means: let sglang decide.
    """
    lowered = model.lower()
    if "smollm" in lowered or lowered in ("", "smollm2"):
        return "chatml"
    config = Path(model).expanduser() / "tokenizer_config.json"
    with contextlib.suppress(OSError, ValueError):
        if config.is_file() and "<|im_start|>" in config.read_text(encoding="utf-8"):
            return "chatml"
    return None


class ServerClients:
    """Clients bound to one server (its URL and API key); mixed into ``Server``."""

    record: ServerRecord
    _client: SglClient | None
    _stats: ServerStats

    @property
    def url(self) -> str:
        return self.record.url

    @property
    def api_key(self) -> str | None:
        return self.record.api_key

    @property
    def model(self) -> str:
        return self.record.model

    def _ensure_running(self) -> None:
        raise NotImplementedError  # pragma: no cover - Server says how

    def _sgl_client(self) -> SglClient:
        if self._client is None:
            self._client = SglClient(self.url, api_key=self.api_key)
        return self._client

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _note_answer(self, result: Any, started: float) -> Any:
        """Short answers log no decode line: their own token/s goes into the stats."""
        note_answer(self._stats, result, time.monotonic() - started)
        return result

    def http(self) -> SglClient:
        """The toolkit's own httpx client (native ``/generate``, info, flush, abort)."""
        self._ensure_running()
        return self._sgl_client()

    def client(self, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` client bound to this server (API key included)."""
        import openai

        self._ensure_running()
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.api_key or "EMPTY", **kwargs)

    def async_client(self, **kwargs: Any) -> Any:
        """An ``openai.AsyncOpenAI`` client bound to this server."""
        import openai

        self._ensure_running()
        return openai.AsyncOpenAI(
            base_url=self.url + "/v1", api_key=self.api_key or "EMPTY", **kwargs
        )

    def backend(self, chat_template_name: str | None = None) -> Any:
        """An sglang ``RuntimeEndpoint`` for the frontend language, with the right chat template.

        >>> sgl.set_default_backend(server.backend())     # doctest: +SKIP
        """
        from sglang import RuntimeEndpoint

        self._ensure_running()
        template = chat_template_name or chat_template_for(self.model)
        return RuntimeEndpoint(self.url, api_key=self.api_key, chat_template_name=template)

    def generate(self, prompt: Any = None, *, stream: bool = False, **sampling: Any) -> Any:
        """Native ``/generate``: a ``GenerateResult`` (text + meta_info), or deltas if streaming."""
        self._ensure_running()
        started = time.monotonic()
        result = self._sgl_client().generate(prompt, stream=stream, **sampling)
        return result if stream else self._note_answer(result, started)

    def chat(self, messages_or_text: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        """``/v1/chat/completions``: a ``ChatResult``, or text deltas with ``stream=True``."""
        self._ensure_running()
        kwargs.setdefault("model", self.model or "default")
        started = time.monotonic()
        result = self._sgl_client().chat(messages_or_text, stream=stream, **kwargs)
        return result if stream else self._note_answer(result, started)
