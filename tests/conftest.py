"""Suite-wide setup. Fixtures live in tests/fixtures/ (one module per area) and are listed here."""

from __future__ import annotations

import os
import tempfile

import pytest

# Every server a test starts registers in a private registry, never the user's own; each test
# process (each pytest-xdist worker too) has its own, and leak checks look only at the processes
# started under it (tests/fixtures/processes.py).
os.environ["SGL_NOTEBOOK_REGISTRY_DIR"] = tempfile.mkdtemp(prefix="sgl-notebook-test-registry-")

# With `-n 2 --dist loadfile` (pytest-xdist) each test module runs whole on one worker, so its
# module fixtures (engines, kernels, the Binder environment) are made once. The slowest modules
# start first, so that neither worker is left running one of them alone at the end.
SLOW_FIRST = (
    "tests/test_binder.py",
    "tests/lab/browser/test_sidebar.py",
    "tests/magics/test_bench_kernel.py",
)

pytest_plugins = [
    "tests.fixtures.tiny_model",
    "tests.fixtures.engine_servers",
    "tests.fixtures.runners",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slowest modules first (xdist hands modules out in collection order)."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return SLOW_FIRST.index(path) if path in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: the order within and between other modules is kept


def pytest_unconfigure(config) -> None:  # noqa: ANN001 - pytest's hook signature
    """Widgets the in-process display tests made outlive the session; at interpreter shutdown
    ipywidgets' ``__del__`` would try to close their comms through a half-torn-down ipykernel
    and print "Exception ignored" tracebacks after pytest's summary. Nothing is left to close
    by then, so their finalizer is switched off."""
    import sys

    widget_module = sys.modules.get("ipywidgets.widgets.widget")
    if widget_module is not None:
        widget_module.Widget.__del__ = lambda self: None
