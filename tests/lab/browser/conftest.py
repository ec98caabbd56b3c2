"""Browser tests drive a real ``jupyter lab`` process: pytest-jupyter's autouse fixtures (made for
its in-process server, imported by tests/lab/conftest.py) are switched off here."""

from __future__ import annotations

import pytest


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Overrides pytest-jupyter's autouse loop: Playwright's sync API runs its own."""


@pytest.fixture
def jp_server_cleanup() -> None:
    """Overrides pytest-jupyter's autouse cleanup: no in-process server here."""
