"""After ``pip install``, Jupyter itself lists both extensions as enabled and valid."""

from __future__ import annotations

import re
import subprocess
import sys


def jupyter(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    # both commands print to stderr; colours are ANSI escapes
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_labextension_is_installed_prebuilt_and_enabled() -> None:
    out = jupyter("labextension", "list")
    assert re.search(r"sgl-notebook v\d+\.\d+\.\d+ enabled OK \(python, sgl-notebook\)", out), out


def test_server_extension_is_enabled_and_valid() -> None:
    out = jupyter("server", "extension", "list")
    assert re.search(r"sgl_notebook\.jupyter_server enabled", out), out
    assert re.search(r"sgl_notebook\.jupyter_server\s+OK", out), out
