"""Engines as small descriptions: how to build argv, how readiness shows, which log dialect.

>>> server_args_to_flags({"mem_fraction_static": 0.8, "enable_metrics": True, "x": None})
['--mem-fraction-static', '0.8', '--enable-metrics']
>>> ENGINES["vllm"].health_path, ENGINES["cpu"].health_path
('/health', '/health_generate')
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgl_notebook.server.api_keys import api_key_flag
from sgl_notebook.server.errors import EngineNotInstalledError, UnknownEngineError

__all__ = [
    "EngineSpec",
    "ENGINES",
    "ENGINE_NAMES",
    "server_args_to_flags",
    "resolve_engine",
    "check_engine_installed",
    "gpu_visible",
]

ENGINE_NAMES = ("sglang", "vllm", "cpu", "auto")


def server_args_to_flags(server_args: Mapping[str, Any]) -> list[str]:
    """Keyword arguments -> command-line flags, in order.

    ``foo_bar=1`` -> ``--foo-bar 1``; True -> bare flag; False/None -> omitted; a list or tuple
    -> the flag followed by each value; a dict -> its JSON text (e.g. ``json_model_override_args``).
    """
    flags: list[str] = []
    for key, value in server_args.items():
        flag = "--" + key.strip("-").replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            flags.append(flag)
            flags.extend(str(item) for item in value)
        elif isinstance(value, dict):
            flags.extend([flag, json.dumps(value)])
        else:
            flags.extend([flag, str(value)])
    return flags


@dataclass(frozen=True)
class EngineSpec:
    """One engine: argv builder, readiness check, log dialect, default port range."""

    name: str
    dialect: str  # for sgl_notebook.protocol.phases.parse_phase_line
    health_path: str  # turns 200 only once the server can serve
    port_range: tuple[int, int]
    modules: tuple[str, ...]  # what the chosen python must be able to import
    package_hint: str  # how to install it

    def build_argv(
        self,
        *,
        python: str,
        model_path: str | None,
        host: str,
        port: int,
        api_key: str | None = None,
        server_args: Mapping[str, Any] | None = None,
        extra_args: Sequence[str] = (),
    ) -> list[str]:
        """The server's argv (a list; never a shell string)."""
        flags = server_args_to_flags(server_args or {})
        common = ["--host", host, "--port", str(port)]
        if api_key:
            common.append(api_key_flag(api_key))
        if self.name == "vllm":
            if not model_path:
                raise ValueError("vllm needs a model: launch('org/model', engine='vllm')")
            return [vllm_executable(python), "serve", model_path, *common, *flags, *extra_args]
        module = "sglang.launch_server" if self.name == "sglang" else "sgl_notebook.engine"
        if not model_path and self.name == "sglang":
            raise ValueError("sglang needs a model: launch('org/model', engine='sglang')")
        model = ["--model-path", model_path] if model_path else []
        return [python, "-m", module, *model, *common, *flags, *extra_args]


ENGINES: dict[str, EngineSpec] = {
    "sglang": EngineSpec(
        "sglang", "sglang", "/health_generate", (30000, 40000), ("sglang.srt", "torch"),
        "pip install 'sglang[all]' (in the environment of the python you pass)",
    ),
    "vllm": EngineSpec(
        "vllm", "vllm", "/health", (8000, 9000), ("vllm",),
        "pip install vllm (in the environment of the python you pass)",
    ),
    "cpu": EngineSpec(
        "cpu", "cpu", "/health_generate", (30000, 40000),
        ("sgl_notebook.engine", "llama_cpp", "llguidance", "fastapi", "uvicorn"),
        "pip install 'sgl-notebook[engine]'",
    ),
}


def vllm_executable(python: str) -> str:
    """``vllm`` next to the interpreter (same environment), else the one on PATH."""
    beside = Path(python).parent / "vllm"
    if beside.exists():
        return str(beside)
    return shutil.which("vllm") or str(beside)


def gpu_visible() -> bool:
    """A quick, import-free check for an NVIDIA or AMD GPU the server could use."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if any(Path("/dev").glob("nvidia[0-9]*")) or Path("/dev/kfd").exists():
        return True
    return shutil.which("nvidia-smi") is not None and _nvidia_smi_lists_a_gpu()


def _nvidia_smi_lists_a_gpu() -> bool:
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def missing_modules(python: str, modules: Sequence[str]) -> list[str] | None:
    """Modules ``python`` cannot find (by ``importlib.util.find_spec``, nothing imported).

    None when the interpreter itself cannot run.
    """
    probe = (
        "import importlib.util, sys\n"
        "def has(m):\n"
        "    try:\n"
        "        return importlib.util.find_spec(m) is not None\n"
        "    except Exception:\n"
        "        return False\n"
        "print(','.join(m for m in sys.argv[1:] if not has(m)))\n"
    )
    try:
        out = subprocess.run(
            [python, "-c", probe, *modules], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    text = out.stdout.strip()
    return [m for m in text.split(",") if m] if text else []


def check_engine_installed(spec: EngineSpec, python: str) -> None:
    """Raise :class:`EngineNotInstalledError` unless ``python`` can run ``spec``'s server."""
    if spec.name == "vllm":
        exe = vllm_executable(python)
        if not Path(exe).exists():
            raise EngineNotInstalledError(
                f"vllm is not installed next to {python} (looked for {exe})",
                hint=spec.package_hint,
            )
        return
    missing = missing_modules(python, spec.modules)
    if missing is None:
        raise EngineNotInstalledError(
            f"cannot run the interpreter {python!r}",
            hint="pass python= the path of an existing python executable",
        )
    if missing:
        raise EngineNotInstalledError(
            f"{python} cannot import {', '.join(missing)}, needed by the {spec.name} engine",
            hint=spec.package_hint,
        )


def resolve_engine(engine: str, python: str | None = None) -> tuple[EngineSpec, str]:
    """The engine to run and why. ``auto`` picks sglang when it can run here, else cpu."""
    if engine not in ENGINE_NAMES:
        raise UnknownEngineError(
            f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_NAMES)}"
        )
    if engine != "auto":
        return ENGINES[engine], f"engine={engine!r} was asked for"
    python = python or sys.executable
    if not gpu_visible():
        return ENGINES["cpu"], "no GPU is visible, so the bundled CPU engine runs"
    missing = missing_modules(python, ENGINES["sglang"].modules)
    if missing:
        return ENGINES["cpu"], f"a GPU is visible but {python} cannot import {', '.join(missing)}"
    if missing is None:
        return ENGINES["cpu"], f"a GPU is visible but {python} does not run"
    return ENGINES["sglang"], f"a GPU is visible and {python} has SGLang's runtime"
