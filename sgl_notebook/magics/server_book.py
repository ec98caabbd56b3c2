"""The servers a kernel's magics know by name, and which one is current.

Servers come from ``%sgl launch`` / ``%sgl connect`` in this kernel, and from
``sgl_notebook.servers()`` (servers started with the Python API), looked up when a name is not
known yet. Only names and the current choice live here; the servers manage themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgl_notebook.magics.errors import NoServerError, UnknownServerError, did_you_mean

if TYPE_CHECKING:
    from sgl_notebook.server.protocols import NotebookServer

__all__ = ["ServerBook"]


def _api_servers() -> list[NotebookServer]:
    try:
        from sgl_notebook import servers
    except ImportError:  # the lifecycle layer is not importable (partial install)
        return []
    try:
        return list(servers())
    except Exception:  # noqa: BLE001 - a registry read must not break a magic
        return []


class ServerBook:
    """Name -> server, plus the current server."""

    def __init__(self) -> None:
        self._servers: dict[str, NotebookServer] = {}
        self.current: str | None = None

    def add(self, server: NotebookServer, make_current: bool = True) -> None:
        name = str(server.name or server.url)
        self._servers[name] = server
        if make_current:
            self.current = name

    def remove(self, name: str) -> None:
        self._servers.pop(name, None)
        if self.current == name:
            self.current = next(iter(reversed(self._servers)), None)

    def all(self) -> list[NotebookServer]:
        """Servers of this kernel, then those of the Python API not added here."""
        merged = dict(self._servers)
        for server in _api_servers():
            merged.setdefault(str(server.name), server)
        return list(merged.values())

    def names(self) -> list[str]:
        return [str(s.name) for s in self.all()]

    def get(self, name: str | None = None) -> NotebookServer:
        """The named server (or the current one). Raises UsageError subclasses with next steps."""
        if name is None:
            if self.current is not None and self.current in self._servers:
                return self._servers[self.current]
            others = self.all()
            if len(others) == 1:  # one server started with the Python API: use it
                self.add(others[0])
                return others[0]
            if not others:
                raise NoServerError(
                    "No server yet. Start one with %sgl launch (the CPU engine needs no GPU), "
                    "or use a running one with %sgl connect http://HOST:PORT."
                )
            raise NoServerError(
                f"Several servers and none is current: pick one with %sgl use NAME "
                f"({', '.join(self.names())})."
            )
        if name in self._servers:
            return self._servers[name]
        for server in _api_servers():
            if server.name == name:
                self.add(server, make_current=False)
                return server
        known = self.names()
        listing = (
            f" Known servers: {', '.join(known)}."
            if known
            else " No server is running: %sgl launch starts one."
        )
        raise UnknownServerError(f"No server named {name!r}.{did_you_mean(name, known)}{listing}")
