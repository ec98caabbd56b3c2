"""What the notebook side (``display``, ``magics``) needs of a server, as one structural type.

:class:`~sgl_notebook.server.server.Server` -- launched (``managed``) or connected by URL
(``%sgl connect``, ``connect()``) -- and its subclass
:class:`~sgl_notebook.server.router_group.Router` (``%sgl launch --replicas``, ``%sgl router``)
satisfy it; nothing else reaches the magics. Display functions read a few members only (the
stats dashboard: ``name``, ``url``, ``api_key``, ``stats`` and ``is_alive()``), so a test's
stand-in with those is drawn too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sgl_notebook.client import SglClient
    from sgl_notebook.protocol.phases import PhaseEvent
    from sgl_notebook.stats import ServerStats

__all__ = ["NotebookServer"]


class NotebookServer(Protocol):
    """A server as the magics and the display see it: identity, liveness, stats, lifecycle."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def api_key(self) -> str | None: ...

    @property
    def engine(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def managed(self) -> bool:
        """True when this process launched it (it has a log, it can stop and restart)."""
        ...

    @property
    def stats(self) -> ServerStats:
        """Its live stats: log lines, scraped metrics and the load report, as far as it has them."""
        ...

    def is_alive(self) -> bool: ...

    def logs(self, n: int = 50) -> list[str]: ...

    def http(self) -> SglClient:
        """The toolkit's client; restarts an idle-stopped server, or says why it cannot serve."""
        ...

    def backend(self, chat_template_name: str | None = None) -> Any:
        """An sglang ``RuntimeEndpoint`` for the frontend language."""
        ...

    def on_phase(self, fn: Callable[[PhaseEvent], None]) -> Callable[[], None]: ...

    def stop(self, timeout: float = 10.0, save_log: str | Path | None = None) -> Path | None:
        """Stop it (managed) or forget it (connected); ``save_log``: copy its log there first."""
        ...

    def restart(self, timeout: float | None = None) -> NotebookServer: ...
