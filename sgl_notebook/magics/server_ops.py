"""Small one-shot server actions behind ``%sgl logs``, ``%sgl info`` and ``%sgl flush``, and the
launch clean-up and folded log tail the magics show when a server is gone."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from sgl_notebook.display.html_builders import card, esc, pre, table
from sgl_notebook.magics.errors import ServerRequestError

if TYPE_CHECKING:
    from sgl_notebook.server.protocols import NotebookServer

__all__ = [
    "InfoCard",
    "LogTail",
    "flush_cache",
    "own_record_ids",
    "server_info",
    "show_folded_log",
    "show_logs",
    "stop_new_own_records",
]

# the server-info fields a person asks about first
_INFO_KEYS = (
    "model_path",
    "served_model_name",
    "tokenizer_path",
    "is_generation",
    "context_length",
    "max_total_num_tokens",
    "max_req_input_len",
    "max_running_requests",
    "chunked_prefill_size",
    "dtype",
    "tp_size",
    "mem_fraction_static",
    "enable_metrics",
    "enable_cache_report",
    "version",
)


def _get(server: NotebookServer, path: str, method: str = "GET") -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {server.api_key}"} if server.api_key else {}
    try:
        response = httpx.request(
            method, f"{str(server.url).rstrip('/')}{path}", headers=headers, timeout=10.0
        )
    except httpx.HTTPError as exc:
        raise ServerRequestError(
            f"Cannot reach {server.url} ({exc.__class__.__name__}). "
            "Is it still running? See %sgl list."
        ) from None
    return response


class LogTail:
    """Displayable log lines (plain text, and escaped HTML)."""

    def __init__(self, name: str, lines: list[str]) -> None:
        self.name, self.lines = name, lines

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = "\n".join(self.lines) or "(no log lines yet)"
        return {
            "text/plain": text,
            "text/html": card(
                f"log of {esc(self.name)}", pre(text, font_size="85%"), accent="#64748b"
            ),
        }


def show_logs(server: NotebookServer, n: int) -> LogTail:
    """The last ``n`` log lines (none for a server connected by URL: its log is where it runs)."""
    return LogTail(str(server.name), list(server.logs(n))[-n:])


class InfoCard:
    def __init__(self, name: str, info: dict[str, Any]) -> None:
        self.name, self.info = name, info

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = [(k, v) for k, v in self.info.items()]
        text = "\n".join(f"{k}: {v}" for k, v in rows)
        return {
            "text/plain": text,
            "text/html": card(
                f"{esc(self.name)} info", table(["field", "value"], rows), accent="#2563eb"
            ),
        }


def server_info(server: NotebookServer) -> InfoCard:
    """Model info and the most useful server-info fields (/get_model_info, /get_server_info)."""
    info: dict[str, Any] = {"url": server.url}
    for path in ("/get_model_info", "/get_server_info"):
        response = _get(server, path)
        if response.status_code == 200:
            data = response.json()
            # a field one endpoint leaves null (the CPU engine's context_length in
            # /get_model_info) is taken from the other
            info.update(
                {k: data[k] for k in _INFO_KEYS if data.get(k) is not None and k not in info}
            )
    if len(info) == 1:
        raise ServerRequestError(
            f"{server.url} answered neither /get_model_info nor /get_server_info."
        )
    if info.get("context_length") is None:
        # --context-length unset: the model's own is in /v1/models (SGLang's and vLLM's)
        length = _model_context_length(server)
        if length is not None:
            info["context_length"] = length
    return InfoCard(str(server.name), info)


def _model_context_length(server: NotebookServer) -> int | None:
    response = _get(server, "/v1/models")
    if response.status_code != 200:
        return None
    try:
        cards = response.json().get("data") or []
        length = cards[0].get("max_model_len") if cards else None
    except (ValueError, AttributeError, TypeError):
        return None
    return int(length) if isinstance(length, int) else None


def flush_cache(server: NotebookServer) -> None:
    response = _get(server, "/flush_cache", method="POST")
    first = response.text.strip().splitlines()[0] if response.text.strip() else ""
    if response.status_code != 200:
        raise ServerRequestError(
            f"Cache not flushed (HTTP {response.status_code}): {first} "
            "Wait for running requests to finish."
        )
    print(f"{server.name}: {first or 'cache flushed'}")


def own_record_ids() -> set[str]:
    """Ids of the registry records this process launched (before a launch starts)."""
    from sgl_notebook.server.registry import list_records

    return {r.id for r in list_records(prune=False) if r.owner_pid == os.getpid()}


def stop_new_own_records(before: set[str]) -> None:
    """Stop what this process launched since ``before`` (an interrupted launch leaves nothing)."""
    from sgl_notebook.server.registry import list_records, stop_record

    for record in list_records(prune=False):
        if record.owner_pid == os.getpid() and record.id not in before:
            stop_record(record, timeout=5.0)


def launch_with_view(
    view: Any, model: str | None, kwargs: dict[str, Any], *, subject: str, tail_lines: int = 0
) -> Any:
    """``sgl_notebook.launch(model, **kwargs)`` with ``view`` following it; every way it can end
    badly becomes one magic error (``subject``: "server" or "servers"; ``tail_lines`` of the log
    go into the message, for views that cannot show them).

    An interrupt stops whatever this process launched meanwhile and says so once.
    """
    import sgl_notebook
    from sgl_notebook.magics.errors import (
        LaunchCancelledError,
        LaunchFailedError,
        SglUsageError,
    )
    from sgl_notebook.server.errors import LaunchError, SglNotebookError

    before = own_record_ids()
    try:
        view.start()
        return sgl_notebook.launch(model, **kwargs)
    except KeyboardInterrupt:
        # the launcher stops a half-started server itself; make sure, then say so once
        stop_new_own_records(before)
        view.cancelled("nothing left running")
        raise LaunchCancelledError("launch cancelled; nothing left running") from None
    except LaunchError as exc:
        view.failed(exc)
        tail = "\n" + "\n".join(exc.log_tail[-tail_lines:]) if tail_lines and exc.log_tail else ""
        hint = f" What to do: {exc.hint}" if exc.hint else ""
        raise LaunchFailedError(
            f"The {subject} did not start: {exc.reason}.{hint}{tail}"
        ) from None
    except (SglNotebookError, ValueError, OSError) as exc:
        view.discard()  # a mistake in the request: the one-line error says it all
        raise SglUsageError(f"%sgl launch: {exc}") from None


class FoldedLog:
    """The last log lines of a server, folded (``<details>``) so an error stays readable."""

    def __init__(self, name: str, lines: list[str]) -> None:
        self.name, self.lines = name, lines

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = "\n".join(self.lines)
        summary = f"last {len(self.lines)} log lines of {esc(self.name)}"
        html = (
            f'<details class="sgl-folded-log"><summary style="cursor:pointer;opacity:0.75">'
            f"{summary}</summary>{pre(text, font_size='85%')}</details>"
        )
        plain = f"(%sgl logs {self.name} shows its last log lines)"
        return {"text/plain": plain, "text/html": html}


def show_folded_log(name: str, lines: list[str]) -> None:
    """Display a server's last log lines folded, above the one-line error that follows."""
    if not lines:
        return
    from IPython.display import display

    display(FoldedLog(name, list(lines)))  # type: ignore[no-untyped-call]
