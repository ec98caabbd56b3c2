"""Suite-wide setup. Fixtures live in tests/fixtures/ (one module per area) and are listed here."""

from __future__ import annotations

import os
import tempfile

# Every server a test starts registers in a private registry, never the user's own.
os.environ.setdefault(
    "SGL_NOTEBOOK_REGISTRY_DIR", tempfile.mkdtemp(prefix="sgl-notebook-test-registry-")
)

pytest_plugins = [
    "tests.fixtures.tiny_model",
    "tests.fixtures.engine_servers",
    "tests.fixtures.runners",
]


def pytest_unconfigure(config) -> None:  # noqa: ANN001 - pytest's hook signature
    """Widgets the in-process display tests made outlive the session; at interpreter shutdown
    ipywidgets' ``__del__`` would try to close their comms through a half-torn-down ipykernel
    and print "Exception ignored" tracebacks after pytest's summary. Nothing is left to close
    by then, so their finalizer is switched off."""
    import sys

    widget_module = sys.modules.get("ipywidgets.widgets.widget")
    if widget_module is not None:
        widget_module.Widget.__del__ = lambda self: None
