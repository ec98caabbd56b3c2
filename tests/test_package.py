"""The package as a whole: a light import, the public names, and the pure modules' doctests."""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "sglang", "IPython", "ipywidgets", "matplotlib", "pandas")

PURE_MODULES = [
    "sgl_notebook.protocol.sse",
    "sgl_notebook.protocol.sglang_format",
    "sgl_notebook.protocol.phases",
    "sgl_notebook.protocol.logs",
]


def test_import_is_light_and_names_resolve_lazily() -> None:
    code = (
        "import json, sys, time\n"
        "t = time.perf_counter()\n"
        "import sgl_notebook\n"
        "elapsed = time.perf_counter() - t\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'elapsed': elapsed,\n"
        "                  'launch': callable(sgl_notebook.launch),\n"
        "                  'show': callable(sgl_notebook.show)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["heavy"] == []  # nothing heavy at import time
    assert result["launch"] and result["show"]


def test_unknown_public_name_is_an_attribute_error() -> None:
    import sgl_notebook

    with pytest.raises(AttributeError, match="no attribute 'lanch'"):
        sgl_notebook.lanch  # noqa: B018


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_module_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_the_layers_hold() -> None:
    """DESIGN's import directions (pyproject's [tool.importlinter] contracts), as `lint-imports`
    sees them: function-level imports count, so a lazy import cannot hide a wrong direction."""
    from pathlib import Path

    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], capture_output=True, text=True, timeout=300, check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in done.stdout
