"""Suite-wide setup. Fixtures live in tests/fixtures/ (one module per area) and are listed here."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator

import pytest

# Every server a test starts registers in a private registry, never the user's own.
os.environ.setdefault(
    "SGL_NOTEBOOK_REGISTRY_DIR", tempfile.mkdtemp(prefix="sgl-notebook-test-registry-")
)

pytest_plugins = [
    "tests.fixtures.tiny_model",
    "tests.fixtures.engine_servers",
]


@pytest.fixture(scope="session", autouse=True)
def _close_widgets_at_exit() -> Iterator[None]:
    """Close widgets the in-process display tests made while the interpreter is still whole
    (ipywidgets' ``__del__`` at shutdown otherwise prints tracebacks after the summary)."""
    yield
    widgets = sys.modules.get("ipywidgets")
    if widgets is not None:
        widgets.Widget.close_all()
