"""A tokenizer folder for bench_serving, built from a GGUF's header with torch out of reach, gives
the ids llama.cpp gives for the same text; bad files are one-line errors and leave no folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sgl_notebook.server import gguf_tokenizer
from sgl_notebook.server.bench_setup import BenchError, gguf_tokenizer_folder

TEXTS = [
    "Hello world",
    "The capital of France is Paris.",
    "  two leading spaces, tabs\tand a newline\n",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>",
    "naïve café — 東京 🚀",
]

_WITHOUT_TORCH = (
    "import runpy, sys\n"
    "sys.modules['torch'] = None  # as in an environment without torch\n"
    "sys.argv = ['gguf_tokenizer.py', sys.argv[1], sys.argv[2]]\n"
    f"runpy.run_path({str(Path(gguf_tokenizer.__file__))!r}, run_name='__main__')\n"
)


def _build_without_torch(gguf: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, str(gguf), str(folder)],
        capture_output=True, text=True, timeout=300, check=False,
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def smollm2_gguf() -> Path:
    from sgl_notebook.engine.runners.resolve import smollm2_gguf_path

    return smollm2_gguf_path()


@pytest.mark.smollm
def test_the_folder_tokenizes_as_llama_cpp_does(smollm2_gguf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "tok"
    done = _build_without_torch(smollm2_gguf, folder)
    assert done.returncode == 0, done.stderr
    from transformers import AutoTokenizer

    from sgl_notebook.engine.runners.llamacpp.gguf_model import load_gguf

    built = AutoTokenizer.from_pretrained(str(folder))
    model = load_gguf(smollm2_gguf, "smollm2")
    try:
        for text in TEXTS:
            assert built(text)["input_ids"] == model.tokenizer.encode(text), text
        assert built.eos_token == "<|im_end|>" and built.chat_template
    finally:
        model.close()


def test_a_file_that_is_not_a_gguf_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_text("this is not a model\n" * 10)
    done = _build_without_torch(bogus, tmp_path / "tok")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "GGUFFormatError: model.gguf is not a GGUF file (no GGUF magic bytes)")
    assert not (tmp_path / "tok").exists()


def test_the_cache_builder_names_the_cause_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SGL_NOTEBOOK_CACHE", str(tmp_path / "cache"))
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + b"\x00" * 8 + (5).to_bytes(8, "little"))
    with pytest.raises(BenchError) as caught:
        gguf_tokenizer_folder(cut)
    message = str(caught.value)
    assert message == ("could not build a tokenizer folder from cut.gguf: "
                       "GGUFFormatError: cut.gguf: the GGUF header is truncated")
    assert list((tmp_path / "cache" / "tokenizers").iterdir()) == []
