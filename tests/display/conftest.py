"""The IPython shell the display tests render through."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def shell() -> Any:
    """The global InteractiveShell with the extension loaded, formatting HTML as a notebook does
    (a terminal shell formats text only)."""
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()  # one global shell per test process
    if ip is None:  # an earlier module in this worker cleared the global instance
        from IPython.core.interactiveshell import InteractiveShell

        ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sgl_notebook")
    ip.display_formatter.formatters["text/html"].enabled = True
    return ip
