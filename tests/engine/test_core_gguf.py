"""The llama.cpp runner's model loading: SmolLM2's facts from its GGUF metadata, its tokenizer and
chat template against transformers', and a one-line error for every file it cannot load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sgl_notebook.engine.core.runner import ModelLoadError
from sgl_notebook.engine.runners.llamacpp.gguf_model import load_gguf
from sgl_notebook.engine.runners.loader import load_runner
from sgl_notebook.engine.runners.resolve import choose_model, smollm2_gguf_path

TEXTS = [
    "The capital city of France is",
    "  two leading spaces, tabs\tand\nnewlines; ünïcödé 😀 and 12345 numbers",
    "<|im_start|>user\nHi<|im_end|>\n",
]


@pytest.fixture(scope="module")
def hf_tokenizer() -> Any:
    from transformers import AutoTokenizer

    gguf = smollm2_gguf_path()
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def test_smollm2_facts_come_from_the_gguf(smollm2_llamacpp_runner: Any) -> None:
    info = smollm2_llamacpp_runner.info
    assert info.runner == "llama.cpp" and info.model_class == "LlamaForCausalLM"
    assert info.dtype == "Q4_1" and info.context_length == 8192
    assert info.vocab_size == 49152 and info.has_chat_template
    assert 50e6 < info.weight_bytes < 150e6  # the Q4_1 file as it is, not dequantised
    assert info.resolved_path.endswith(".gguf")


def test_tokenizer_matches_transformers(smollm2_llamacpp_runner: Any, hf_tokenizer: Any) -> None:
    tok = smollm2_llamacpp_runner.tokenizer
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=False)
        assert ids == hf_tokenizer.encode(text, add_special_tokens=False), text
        assert tok.decode(ids) == hf_tokenizer.decode(ids)
        assert tok.decode(ids, skip_special_tokens=True) == hf_tokenizer.decode(
            ids, skip_special_tokens=True
        )
    assert tok.eos_token_id == hf_tokenizer.eos_token_id


def test_chat_template_renders_as_transformers(
    smollm2_llamacpp_runner: Any, hf_tokenizer: Any
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ]
    ours = smollm2_llamacpp_runner.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    theirs = hf_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert ours == theirs and ours.endswith("<|im_start|>assistant\n")


def test_default_runner_choice() -> None:
    assert choose_model("smollm2").runner == "llama.cpp"
    assert choose_model("smollm2", "transformers").runner == "transformers"
    with pytest.raises(ModelLoadError, match="Unknown runner 'vllm'"):
        choose_model("smollm2", "vllm")


def test_a_file_that_is_not_a_gguf(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_text("this is not a model")
    with pytest.raises(ModelLoadError, match="is not a GGUF file"):
        load_runner(str(bogus))


def test_a_truncated_gguf(tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(smollm2_gguf_path().read_bytes()[: 20 << 20])
    with pytest.raises(ModelLoadError) as info:
        load_runner(str(cut))
    message = str(info.value)
    assert "\n" not in message and "Could not load the GGUF model" in message
    assert "bounds" in message or "truncated" in message or "read" in message, message


def test_an_architecture_llama_cpp_cannot_load(tmp_path: Path) -> None:
    data = bytearray(smollm2_gguf_path().read_bytes())
    key = b"general.architecture"
    at = data.index(key) + len(key) + 4 + 8  # value type (u32), string length (u64)
    assert data[at : at + 5] == b"llama"
    data[at : at + 5] = b"zzzzz"
    odd = tmp_path / "odd.gguf"
    odd.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="unknown model architecture: 'zzzzz'"):
        load_gguf(odd, str(odd))


def test_a_context_longer_than_the_model(tmp_path: Path) -> None:
    local = tmp_path / "m.gguf"
    shutil.copy(smollm2_gguf_path(), local)
    with pytest.raises(ModelLoadError, match=r"context_length \(100000\) is greater"):
        load_runner(str(local), context_length=100000)


@pytest.mark.smollm
def test_the_gguf_path_serves_without_torch_transformers_or_xgrammar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine process cannot import torch, transformers or xgrammar (a sitecustomize blocks
    them, as if they were not installed) and still starts, generates and follows a regex."""
    import re

    import httpx

    from tests.fixtures.engine_servers import start_engine

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import sys\nfor name in ('torch', 'transformers', 'xgrammar'):\n"
        "    sys.modules[name] = None  # import raises ModuleNotFoundError\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(guard))
    with start_engine("smollm2", ["--max-total-tokens", "1024"], tmp_path) as server:
        info = httpx.get(f"{server.url}/get_server_info", timeout=30).json()
        assert info["runner"] == "llama.cpp"
        done = httpx.post(f"{server.url}/generate", timeout=120, json={
            "text": "The capital of France is",
            "sampling_params": {"max_new_tokens": 6, "temperature": 0, "regex": " [A-Z][a-z]+"},
        })
        assert done.status_code == 200, done.text
        assert re.fullmatch(" [A-Z][a-z]+", done.json()["text"]), done.json()
    assert "ModuleNotFoundError" not in server.log_text()
