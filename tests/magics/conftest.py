"""A real IPython InteractiveShell with the extension loaded (no kernel: terminal-style output)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ipshell() -> Any:
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()  # one global shell per test process
    shell.run_line_magic("load_ext", "sgl_notebook")
    return shell


@pytest.fixture
def magics(ipshell: Any) -> Iterator[Any]:
    """The SglMagics instance, reset after each test (its traits, and what ``%config`` left in
    the shell's config, which a later ``reload_ext`` in this process would read again)."""
    from sgl_notebook.magics.core import SglMagics

    instance = next(c for c in ipshell.configurables if isinstance(c, SglMagics))
    yield instance
    instance.book = type(instance.book)()
    instance.sessions.clear()
    for trait in ("max_tokens", "temperature", "stream", "update_rate", "default_engine"):
        instance.set_trait(trait, instance.trait_defaults(trait))
    ipshell.config.pop("SglMagics", None)


def run(shell: Any, source: str) -> Any:
    """Run a cell; return the ExecutionResult (errors are kept, never raised)."""
    return shell.run_cell(source, store_history=False)
