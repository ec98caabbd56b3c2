"""``%sgl launch ... --replicas N --router-policy P`` and ``%sgl router NAMES_OR_URLS --policy P``.

The magic class only dispatches here; what is shown while the group starts is a
:class:`~sgl_notebook.display.router_view.GroupLaunchView` (a row per worker and the router).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sgl_notebook.magics.errors import LaunchFailedError, SglUsageError

__all__ = ["RouterSpec", "launch_group", "front_servers"]


@dataclass(frozen=True)
class RouterSpec:
    """``%sgl router a b http://host:port --policy round_robin --name r``."""

    targets: tuple[str, ...]
    policy: str = "cache_aware"
    name: str | None = None
    api_key: str | None = None


def launch_group(magics: Any, spec: Any) -> None:
    """Start ``spec.replicas`` workers and the router; the group becomes the current server."""
    from sgl_notebook.display.router_view import GroupLaunchView
    from sgl_notebook.display.stream_view import frontend_mode
    from sgl_notebook.magics import server_ops
    from sgl_notebook.magics.actions import launch_api_key
    from sgl_notebook.server.engines import resolve_engine
    from sgl_notebook.server.errors import SglNotebookError

    engine = spec.engine or magics.default_engine
    try:
        chosen, reason = resolve_engine(engine, spec.python)
    except SglNotebookError as exc:
        raise SglUsageError(f"%sgl launch: {exc}") from None
    replicas = spec.replicas or 1
    policy = spec.router_policy or "cache_aware"
    model = spec.model or ("smollm2" if chosen.name == "cpu" else "")
    view = GroupLaunchView(
        f"launching {replicas} × {model or 'the default model'} on the {chosen.name} engine "
        f"behind SGLang's router ({policy})",
        frontend_mode(), [], engine=chosen.name, reason=reason,
    )
    kwargs: dict[str, Any] = {
        "engine": engine, "name": spec.name, "replicas": replicas, "router_policy": policy,
        "api_key": launch_api_key(spec.api_key),
        "extra_args": spec.extra_args, "on_phase": view.on_phase,
    }
    if spec.python:
        kwargs["python"] = spec.python
    group = server_ops.launch_with_view(view, spec.model, kwargs, subject="servers")
    _make_current(magics, group)
    view.succeeded(group)


def _make_current(magics: Any, group: Any) -> None:
    # the workers are found by name through sgl_notebook.servers() (%sgl logs NAME-w1)
    from sgl_notebook.magics.actions import make_current

    make_current(magics, group)


def front_servers(magics: Any, spec: RouterSpec) -> Any:
    """``%sgl router``: the router in front of named servers (this kernel's) and URLs."""
    import sgl_notebook
    from sgl_notebook.display.server_views import ServerCard
    from sgl_notebook.server.errors import LaunchError, SglNotebookError

    targets = [t if t.startswith(("http://", "https://")) else magics.book.get(t)
               for t in spec.targets]
    try:
        group = sgl_notebook.router(targets, policy=spec.policy, name=spec.name,
                                    api_key=spec.api_key)
    except LaunchError as exc:
        hint = f" What to do: {exc.hint}" if exc.hint else ""
        raise LaunchFailedError(f"The router did not start: {exc.reason}.{hint}") from None
    except (SglNotebookError, ValueError, TypeError, OSError) as exc:
        raise SglUsageError(f"%sgl router: {exc}") from None
    _make_current(magics, group)
    return ServerCard(group, current=True)
