"""Binder: an environment built from ``binder/`` the way repo2docker builds one -- a clean copy of
the repository, ``pip install -r binder/requirements.txt``, then ``binder/postBuild`` from the
repository root -- serves JupyterLab with both extensions and runs the quickstart on SmolLM2.

There is no Docker engine here, so a fresh virtualenv stands in for Binder's image (whose base
environment already has Python, node, JupyterLab and ipykernel). Binder needs no torch: the
engine runs SmolLM2's GGUF on llama.cpp. pip's cache is kept (``SGL_NOTEBOOK_PIP_CACHE=1``) so the
llama.cpp wheel compiled for the project's own venv is reused instead of compiled again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.lab.lab_process import LabProcess
from tests.magics.test_notebooks import (
    NOTEBOOKS,
    _check_frontend_renderings,
    _check_saved_renderings,
    _execute,
    check_frontend_answers,
    check_quickstart_answers,
    check_scheduler_notebook,
)

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.binder, pytest.mark.timeout(2400)]


@dataclass
class BinderEnv:
    repo: Path  # the clean copy postBuild ran in
    venv: Path
    env: dict[str, str]  # the environment a Binder session would have (PATH, model cache)
    build_log: str

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


def _clean_copy(target: Path) -> None:
    """The repository's tracked files only (no build outputs, no node_modules), as a clone has."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot make a clean copy for the Binder build")
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinderEnv]:
    base = tmp_path_factory.mktemp("binder")
    repo, venv = base / "repo", base / "venv"
    _clean_copy(repo)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "SGL_NOTEBOOK_PIP_CACHE": "1",
        "SGL_NOTEBOOK_CACHE_DIR": str(base / "models"),  # nothing may be converted here
    }
    env.pop("PYTHONPATH", None)
    python = str(venv / "bin" / "python")
    try:
        requirements = [python, "-m", "pip", "install", "-r", "binder/requirements.txt"]
        log = _run(requirements, repo, env, 900)
        log += _run(["bash", "binder/postBuild"], repo, env, 1800)
        yield BinderEnv(repo, venv, env, log)
    finally:  # the venv and the node build
        shutil.rmtree(base, ignore_errors=True)


def test_postbuild_installs_the_package_the_extension_and_llama_cpp_without_torch(
    binder_env: BinderEnv,
) -> None:
    # installed into the venv (a wheel built from the copy, labextension included)
    where = _run(
        [binder_env.python, "-c", "import sgl_notebook, llama_cpp, llguidance; "
         "print(sgl_notebook.__file__)"],
        binder_env.venv, binder_env.env, 120,  # not from the copy's folder: from the venv
    )
    assert str(binder_env.venv) in where, where
    no_torch = subprocess.run(
        [binder_env.python, "-c", "import torch"], env=binder_env.env, capture_output=True,
        text=True, check=False, timeout=120,
    )
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr
    assert "model: " in binder_env.build_log and ".gguf" in binder_env.build_log
    converted = Path(binder_env.env["SGL_NOTEBOOK_CACHE_DIR"])
    assert not converted.exists() or not any(converted.iterdir())  # the GGUF is used as it is
    listed = re.sub(
        r"\x1b\[[0-9;]*m", "",
        _run([binder_env.python, "-m", "jupyter", "server", "extension", "list"],
             binder_env.repo, binder_env.env, 120),
    )
    assert re.search(r"sgl_notebook\.jupyter_server enabled", listed), listed


@pytest.fixture
def binder_lab(binder_env: BinderEnv, tmp_path: Path) -> Iterator[LabProcess]:
    lab = LabProcess(tmp_path, binder_env.repo, python=binder_env.python)
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


def test_binder_lab_serves_the_extension_and_its_api(binder_lab: LabProcess) -> None:
    headers = {"Authorization": f"token {binder_lab.token}"}
    page = requests.get(f"{binder_lab.url}/lab", headers=headers, timeout=30)
    assert page.status_code == 200
    assert '"name": "sgl-notebook"' in page.text or '"name":"sgl-notebook"' in page.text
    api = f"{binder_lab.url}/sgl-notebook/api/servers"
    servers = requests.get(api, headers=headers, timeout=30)
    assert servers.status_code == 200 and "servers" in servers.json()


def _binder_kernel(
    binder_env: BinderEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A kernel of the Binder environment's python, named ``sgl-binder``."""
    kernels = tmp_path / "kernels"
    _run(
        [binder_env.python, "-m", "ipykernel", "install", "--prefix", str(kernels),
         "--name", "sgl-binder"],
        binder_env.repo, binder_env.env, 120,
    )
    monkeypatch.setenv("JUPYTER_PATH", str(kernels / "share" / "jupyter"))
    monkeypatch.setenv("SGL_NOTEBOOK_CACHE_DIR", binder_env.env["SGL_NOTEBOOK_CACHE_DIR"])
    return "sgl-binder"


@pytest.mark.smollm
def test_the_quickstart_runs_in_the_binder_environment(
    binder_env: BinderEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = _binder_kernel(binder_env, tmp_path, monkeypatch)
    nb = _execute(NOTEBOOKS / "01_quickstart.ipynb", timeout=900, kernel_name=kernel)
    _check_saved_renderings(nb)
    check_quickstart_answers(nb)


@pytest.mark.smollm
def test_the_other_tutorials_run_in_the_binder_environment(
    binder_env: BinderEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = _binder_kernel(binder_env, tmp_path, monkeypatch)
    frontend = _execute(NOTEBOOKS / "02_frontend_language.ipynb", timeout=900, kernel_name=kernel)
    _check_frontend_renderings(frontend)
    check_frontend_answers(frontend)
    scheduler = _execute(
        NOTEBOOKS / "03_watch_the_scheduler.ipynb", timeout=900, kernel_name=kernel
    )
    check_scheduler_notebook(scheduler)
