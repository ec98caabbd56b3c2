"""The GGUF header reader: the real SmolLM2 file's keys as llama.cpp reports them; files that are
not GGUF, cut short or of an unknown version are one-line ``GGUFFormatError``s."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sgl_notebook.protocol.gguf_metadata import GGUFFormatError, read_gguf_metadata


@pytest.fixture(scope="module")
def smollm2_gguf() -> Path:
    from sgl_notebook.engine.runners.resolve import smollm2_gguf_path

    return smollm2_gguf_path()


def _header(version: int, pairs: list[bytes]) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, 0, len(pairs)) + b"".join(pairs)


def _key(name: str) -> bytes:
    encoded = name.encode()
    return struct.pack("<Q", len(encoded)) + encoded


@pytest.mark.smollm
def test_the_real_file_reads_as_llama_cpp_reads_it(smollm2_gguf: Path) -> None:
    metadata = read_gguf_metadata(smollm2_gguf)
    import llama_cpp

    from sgl_notebook.engine.runners.llamacpp.gguf_model import load_gguf, meta_value

    model = load_gguf(smollm2_gguf, "smollm2")
    try:
        for key in ("general.architecture", "tokenizer.ggml.model", "llama.context_length",
                    "tokenizer.ggml.eos_token_id", "llama.rope.freq_base"):
            assert str(metadata[key]) == meta_value(model.model, key) or (
                float(metadata[key]) == float(meta_value(model.model, key) or "nan")), key
        tokens = metadata["tokenizer.ggml.tokens"]
        assert len(tokens) == llama_cpp.llama_vocab_n_tokens(model.vocab) == 49152
        assert tokens[2] == "<|im_end|>" and len(metadata["tokenizer.ggml.merges"]) == 48900
        assert metadata["tokenizer.chat_template"].startswith("{%")
    finally:
        model.close()


def test_every_value_type_round_trips(tmp_path: Path) -> None:
    pairs = [
        _key("a.u8") + struct.pack("<IB", 0, 7),
        _key("a.i32") + struct.pack("<Ii", 5, -3),
        _key("a.f32") + struct.pack("<If", 6, 0.5),
        _key("a.bool") + struct.pack("<I?", 7, True),
        _key("a.u64") + struct.pack("<IQ", 10, 2**40),
        _key("a.f64") + struct.pack("<Id", 12, 1.25),
        _key("a.str") + struct.pack("<I", 8) + _key("héllo"),
        _key("a.ints") + struct.pack("<IIQ3i", 9, 5, 3, 1, -2, 3),
        _key("a.strs") + struct.pack("<IIQ", 9, 8, 2) + _key("x") + _key("yz"),
    ]
    path = tmp_path / "t.gguf"
    path.write_bytes(_header(3, pairs))
    assert read_gguf_metadata(path) == {
        "a.u8": 7, "a.i32": -3, "a.f32": 0.5, "a.bool": True, "a.u64": 2**40, "a.f64": 1.25,
        "a.str": "héllo", "a.ints": [1, -2, 3], "a.strs": ["x", "yz"],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "m.gguf is not a GGUF file (too short)"),
        (b"PK\x03\x04" + b"\x00" * 40, "m.gguf is not a GGUF file (no GGUF magic bytes)"),
        (_header(1, []), "m.gguf is GGUF version 1; 2 and 3 are read"),
        (_header(3, [_key("a.b")]), "m.gguf: the GGUF header is truncated"),
        (_header(3, [_key("a.b") + struct.pack("<I", 99)]), "m.gguf: unknown GGUF value type 99"),
        (_header(3, [_key("a.s") + struct.pack("<IQ", 8, 10**9)]),
         "m.gguf: the GGUF header is truncated"),
    ],
)
def test_bad_files_are_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFFormatError) as caught:
        read_gguf_metadata(path)
    assert str(caught.value) == message


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_gguf_metadata(tmp_path / "nowhere.gguf")
