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
]
