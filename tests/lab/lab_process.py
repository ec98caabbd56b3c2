"""A real ``jupyter lab`` subprocess for the browser tests, with private config and runtime dirs.

The port comes from the server's own runtime file (``jpserver-<pid>.json``), so nothing is fixed
and a busy port is simply retried by Jupyter.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests

from sgl_notebook.server.proctree import terminate_tree

PAGE_CONFIG = {
    # no news pop-up over the screenshots, and no network calls for it
    "disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
}


class LabProcess:
    """``jupyter lab`` serving ``root``; ``url`` and ``token`` once :meth:`start` returns."""

    def __init__(self, base: Path, root: Path, python: str = sys.executable) -> None:
        self.base = base
        self.root = root
        self.python = python  # the environment whose JupyterLab (and extensions) is served
        self.token = secrets.token_hex(16)
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = base / "jupyter-lab.log"

    def start(self, timeout: float = 120.0) -> None:
        config = self.base / "config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        (config / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        runtime = self.base / "runtime"
        runtime.mkdir(exist_ok=True)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(runtime)}
        argv = [
            self.python,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            "--allow-root",
            f"--port={_start_port()}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={self.base / 'settings'}",
            f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to wait on kernel state
        ]
        log = open(self.log_path, "wb")  # noqa: SIM115 -- closed with the process
        self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        info = runtime / f"jpserver-{self.process.pid}.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log_path.read_text()[-3000:]}")
            if info.exists():
                try:
                    self.url = json.loads(info.read_text())["url"].rstrip("/")
                    if self._ready():
                        return
                except (ValueError, KeyError):
                    pass  # the file is being written
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(
            f"jupyter lab not ready in {timeout} s: {self.log_path.read_text()[-3000:]}"
        )

    def _ready(self) -> bool:
        try:
            reply = requests.get(
                f"{self.url}/api/status",
                headers={"Authorization": f"token {self.token}"},
                timeout=5,
            )
        except requests.RequestException:
            return False
        return reply.status_code == 200

    def stop(self) -> None:
        if self.process is None:
            return
        terminate_tree(self.process.pid, None, timeout=15)
        self.process.wait(timeout=15)
        self.process = None


def _start_port() -> int:
    """A port to try first; Jupyter moves to another one itself if it is taken."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
