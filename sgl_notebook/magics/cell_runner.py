"""Send one ``%%sgl`` request and stream it into a :class:`StreamView` (the only IO of a cell).

Every mode becomes the same small :class:`StreamEvent` sequence, so one loop drives the display.
An interrupt (KeyboardInterrupt) ends the loop: the HTTP stream is closed, ``/abort_request``
is sent with the rid we chose, and the partial text is kept.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sgl_notebook.display.result import SglResult, TokenLogprob
from sgl_notebook.display.stream_state import StreamProgress
from sgl_notebook.display.stream_view import ResultGroup, StreamView
from sgl_notebook.magics.errors import ServerRequestError
from sgl_notebook.magics.requests import (
    Defaults,
    chat_request,
    completion_request,
    generate_request,
)
from sgl_notebook.magics.specs import CellSpec

__all__ = ["ServerTarget", "StreamEvent", "abort_request", "new_rid", "openai_client", "run_cell"]


@dataclass(frozen=True)
class ServerTarget:
    """Where a cell goes: base URL (no ``/v1``), API key, display name, model id."""

    url: str
    api_key: str | None = None
    name: str | None = None
    model: str | None = None


class StreamEvent(NamedTuple):
    """One step of any stream (a NamedTuple: one is built per token, so it must be cheap)."""

    sample: int = 0  # which of the --n samples
    text: str = ""
    logprobs: list[TokenLogprob] | None = None
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None  # the whole request's (OpenAI's usage chunk)
    sample_usage: dict[str, Any] | None = None  # this sample's (native meta_info)


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


def usage_dict(usage: Any) -> dict[str, Any] | None:
    """OpenAI usage (object or dict) -> prompt/completion/total tokens and ``cached_tokens``."""
    if usage is None:
        return None
    if not isinstance(usage, dict):
        usage = usage.model_dump()
    out = {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    details = usage.get("prompt_tokens_details") or {}
    out["cached_tokens"] = details.get("cached_tokens") if isinstance(details, dict) else None
    return out


# ---------------------------------------------------------------- events per mode


def _logprob(value: Any) -> float:
    """A logprob as a float; servers send null for tokens they did not score (-inf here)."""
    return float("-inf") if value is None else float(value)


def _chat_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    content = logprobs.get("content") if logprobs else None
    if not content:
        return None
    return [
        TokenLogprob(
            t["token"],
            _logprob(t.get("logprob")),
            tuple((a["token"], _logprob(a.get("logprob"))) for a in (t.get("top_logprobs") or ())),
        )
        for t in content
    ]


def _chat_events(chunks: Iterable[dict[str, Any]]) -> Iterator[StreamEvent]:
    """Events of chat chunks as plain dicts (streamed chunks, or one whole response)."""
    for chunk in chunks:
        usage = chunk.get("usage")
        if usage is not None:
            yield StreamEvent(usage=usage_dict(usage))
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if delta is None:  # non-streamed response
                delta = choice.get("message") or {}
            logprobs = choice.get("logprobs")
            yield StreamEvent(
                choice.get("index") or 0,
                delta.get("content") or "",
                _chat_logprobs(logprobs) if logprobs else None,
                choice.get("finish_reason"),
            )


def _completion_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    if not logprobs or not logprobs.get("tokens"):
        return None
    tokens = logprobs["tokens"]
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    return [
        TokenLogprob(
            tok,
            _logprob(lp),
            tuple((str(k), _logprob(v)) for k, v in (top or {}).items()),
        )
        for tok, lp, top in zip(
            tokens, logprobs.get("token_logprobs") or [None] * len(tokens), tops, strict=False
        )
    ]


def _completion_events(chunks: Iterable[dict[str, Any]]) -> Iterator[StreamEvent]:
    for chunk in chunks:
        usage = chunk.get("usage")
        if usage is not None:
            yield StreamEvent(usage=usage_dict(usage))
        for choice in chunk.get("choices") or ():
            logprobs = choice.get("logprobs")
            yield StreamEvent(
                choice.get("index") or 0,
                choice.get("text") or "",
                _completion_logprobs(logprobs) if logprobs else None,
                choice.get("finish_reason"),
            )


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a half-read body raises in the openai client's transport (httpx or httpx2)."""
    try:
        from openai._httpx2 import request_exceptions, timeout_exceptions

        return (*timeout_exceptions(), *request_exceptions())
    except ImportError:  # pragma: no cover - older openai clients run on plain httpx
        import httpx

        return (httpx.HTTPError,)


def _sse_payloads(response: Any) -> Iterator[dict[str, Any]]:
    """JSON payloads of an OpenAI-style SSE body, without building a pydantic object per chunk.

    The openai client still sends the request (auth, ``extra_body``, status errors); only the
    per-chunk parsing is ours: split the bytes on newlines, ``json.loads`` each ``data:`` line.
    An ``{"error": ...}`` event ends the stream as :class:`openai.APIError` would.
    """
    import openai

    loads = json.loads
    errors = _transport_errors()
    pending = b""
    try:
        for block in response.iter_bytes():
            lines = (pending + block).split(b"\n")
            pending = lines.pop()
            for line in lines:
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data.startswith(b"[DONE]"):
                    return
                payload = loads(data)
                if isinstance(payload, dict) and payload.get("error"):
                    error = payload["error"]
                    message = error.get("message") if isinstance(error, dict) else error
                    raise ServerRequestError(
                        f"The server stopped the answer: {message or 'an error while streaming'}"
                    )
                yield payload
    except errors as exc:
        raise openai.APIConnectionError(request=response.http_response.request) from exc


def _native_finish(reason: Any) -> str | None:
    if isinstance(reason, dict):
        return str(reason.get("type"))
    return None if reason is None else str(reason)


def _native_logprobs(meta: dict[str, Any], start: int) -> tuple[list[TokenLogprob], int]:
    tokens = meta.get("output_token_logprobs") or []
    tops = meta.get("output_top_logprobs") or [None] * len(tokens)
    out = [
        TokenLogprob(
            str(t[2]),
            _logprob(t[0]),
            tuple((str(a[2]), _logprob(a[0])) for a in (top or ())),
        )
        for t, top in zip(tokens[start:], tops[start:], strict=False)
    ]
    return out, len(tokens)


def _generate_events(payloads: Iterator[Any]) -> Iterator[StreamEvent]:
    """Native /generate events carry cumulative text (and logprobs): turn them into deltas."""
    seen_text: dict[int, int] = {}
    seen_logprobs: dict[int, int] = {}
    for payload in payloads:
        if isinstance(payload, dict) and "error" in payload:
            error = payload["error"]
            raise ServerRequestError(
                "The server refused the request: "
                + str(error.get("message", error) if isinstance(error, dict) else error)
            )
        meta = payload.get("meta_info", {})
        index = int(payload.get("index", 0))
        text = payload.get("text", "")
        delta = text[seen_text.get(index, 0) :]
        seen_text[index] = len(text)
        logprobs, seen_logprobs[index] = _native_logprobs(meta, seen_logprobs.get(index, 0))
        finish = _native_finish(meta.get("finish_reason"))
        usage = None
        if finish is not None:
            usage = {
                "prompt_tokens": meta.get("prompt_tokens"),
                "completion_tokens": meta.get("completion_tokens"),
                "cached_tokens": meta.get("cached_tokens"),
            }
        yield StreamEvent(index, delta, logprobs or None, finish, sample_usage=usage)


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


def _raise_for_native(status: int, text: str) -> None:
    if status != 200:
        try:
            message = json.loads(text).get("error", {}).get("message", text)
        except (ValueError, AttributeError):
            message = text
        raise ServerRequestError(f"The server answered {status}: {message}")


# ---------------------------------------------------------------- the cell


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
    model = target.model or "default"
    closers: list[Any] = []
    client = openai_client(target.url, target.api_key) if spec.mode != "generate" else None
    # the clock starts once the (cached, slow the first time) client exists: TTFT is the server's
    progress = StreamProgress(n=spec.n, started_at=time.perf_counter(), streamed=stream)
    view = StreamView(
        progress, show_logprobs=spec.logprobs, max_updates_per_s=max_updates_per_s, mode=view_mode
    )
    interrupted = False
    try:
        if spec.mode in ("chat", "complete"):
            assert client is not None
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
                endpoint = client.completions
                to_events = _completion_events
            if stream:
                # the request (and its status errors) through openai; the chunks parsed as dicts
                response = endpoint.with_streaming_response.create(**body).__enter__()
                closers.append(response)
                events: Iterator[StreamEvent] = to_events(_sse_payloads(response))
            else:
                events = to_events([endpoint.create(**body).model_dump()])
        else:
            body = generate_request(spec, prompt, defaults, rid=rid, schema=schema, stream=stream)
            events = _generate_events(_native_payloads(target, body, closers))
        if stream:
            view.start()
        for event in events:
            if event.usage is not None:
                progress.usage = event.usage
            if event.sample_usage is not None:
                progress.set_sample_usage(event.sample, event.sample_usage)
            if event.text or event.logprobs:
                if stream:
                    view.feed(event.sample, event.text, event.logprobs)
                else:
                    progress.feed(event.sample, event.text, time.perf_counter(), event.logprobs)
            progress.finish(event.sample, event.finish_reason)
    except KeyboardInterrupt:
        interrupted = True
        for closer in closers:
            _quietly_close(closer)
        abort_request(target, rid)
    except openai.APIConnectionError:
        raise ServerRequestError(
            f"Cannot reach the server at {target.url}: is it running? Check with %sgl list, "
            "or start one with %sgl launch."
        ) from None
    except openai.APIStatusError as exc:
        raise ServerRequestError(
            f"The server answered {exc.status_code}: {_api_message(exc)}"
        ) from None
    except openai.APIError as exc:  # an error event inside the stream
        raise ServerRequestError(f"The server stopped the answer: {_api_message(exc)}") from None
    finally:
        for closer in closers:
            _quietly_close(closer)
    results = progress.results(
        interrupted=interrupted, rid=rid, server=target.name, model=target.model
    )
    if schema is not None:
        for result in results:
            try:
                result.json = json.loads(result.text)
            except ValueError:
                result.json = None
    if stream:
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
