"""What a request to a server can end in, besides an answer: each says what happened.

    ServerHTTPError         the server answered an error status (``status``, ``body``, ``message``)
    ServerConnectionError   no connection, or it broke before the answer ended (``started``)
    ServerStreamError       the server ended a stream with an error event (``message``)
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ServerConnectionError", "ServerHTTPError", "ServerStreamError", "error_message"]


def error_message(body: Any) -> str | None:
    """The server's own words in an error body: SGLang's, vLLM's or FastAPI's JSON, or the text.

    >>> error_message('{"object": "error", "message": "too long", "code": 400}')
    'too long'
    >>> error_message({"error": {"message": "Invalid grammar"}})
    'Invalid grammar'
    >>> error_message('{"detail": "Not Found"}'), error_message("Bad Gateway"), error_message("")
    ('Not Found', 'Bad Gateway', None)
    """
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip() or None
    if isinstance(body, dict):
        inner = body.get("error")
        for value in (body.get("message"), inner, body.get("detail")):
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)
    return None if body is None or body == "" else str(body)


class ServerHTTPError(RuntimeError):
    """The server answered with an error status; ``status`` and ``body`` say which."""

    def __init__(self, status: int, body: str, url: str) -> None:
        self.status = status
        self.body = body
        self.url = url
        hint = " (wrong or missing API key?)" if status == 401 else ""
        super().__init__(f"{url} answered HTTP {status}{hint}: {body[:500]}")

    @property
    def message(self) -> str:
        """The server's own message (from its JSON error body), else the body, else the status."""
        return error_message(self.body) or f"HTTP {self.status}"


class ServerConnectionError(ConnectionError):
    """The server could not be reached, or the connection broke while the answer streamed.

    ``started`` is True when part of the answer had arrived (the server closed mid-stream).
    """

    def __init__(self, url: str, cause: BaseException, *, started: bool = False) -> None:
        self.url = url
        self.started = started
        what = "closed the connection before the answer ended" if started else "cannot be reached"
        detail = str(cause) or type(cause).__name__
        super().__init__(f"{url} {what} ({detail})")


class ServerStreamError(RuntimeError):
    """The server sent an error event instead of (or in the middle of) an answer.

    ``started`` is True when part of the answer came first: the server stopped it; before any,
    the server refused the request.
    """

    def __init__(self, error: Any, *, started: bool = False) -> None:
        self.message = error_message(error) or "an error while streaming"
        self.started = started
        what = "stopped the answer" if started else "refused the request"
        super().__init__(f"The server {what}: {self.message}")
