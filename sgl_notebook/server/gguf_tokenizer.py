"""A Hugging Face tokenizer folder built from a GGUF file's metadata, without torch.

``sglang.bench_serving`` tokenizes with ``transformers.AutoTokenizer``, which needs a folder;
a GGUF model carries its tokenizer in its header. transformers' own GGUF loader reads that header
through torch, so the header is read here (``protocol.gguf_metadata``) and handed to transformers'
converter: the ``tokenizer.json`` is the one ``AutoTokenizer.from_pretrained(gguf_file=...)``
writes. Run as a script (``python gguf_tokenizer.py GGUF FOLDER``) it works in any interpreter
that has transformers, with or without sgl-notebook installed there.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

try:
    from sgl_notebook.protocol.gguf_metadata import read_gguf_metadata
except ImportError:  # run as a script by another interpreter: the reader is a stdlib-only file
    read_gguf_metadata = runpy.run_path(
        str(Path(__file__).resolve().parents[1] / "protocol" / "gguf_metadata.py")
    )["read_gguf_metadata"]

_SPECIAL_TOKENS = {
    "bos_token": "bos_token_id",
    "eos_token": "eos_token_id",
    "unk_token": "unknown_token_id",
    "pad_token": "padding_token_id",
}


def tokenizer_parts(metadata: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(architecture, tokenizer fields, tokenizer_config) as transformers' GGUF reader groups
    them (``transformers.integrations.gguf.get_gguf_tokenizer``)."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_TOKENIZER_MAPPING

    if "tokenizer.ggml.tokens" not in metadata:
        raise ValueError("the GGUF file has no tokenizer (no tokenizer.ggml.tokens)")
    grouped = {
        group: {name: metadata[f"tokenizer.{key}"] for key, name in renames.items()
                if f"tokenizer.{key}" in metadata}
        for group, renames in GGUF_TOKENIZER_MAPPING.items()
    }
    tokenizer, config = grouped["tokenizer"], grouped["tokenizer_config"]
    if tokenizer.get("tokenizer_type") == "llama":  # llama.cpp adds BOS unless told otherwise
        config.setdefault("add_bos_token", True)
    for name, key in _SPECIAL_TOKENS.items():
        token_id = metadata.get(f"tokenizer.ggml.{key}")
        config[name] = tokenizer["tokens"][token_id] if token_id is not None else None
    return str(metadata.get("general.architecture", "")), tokenizer, config


def build_tokenizer_folder(gguf: Path, folder: Path) -> None:
    """Write ``tokenizer.json``, ``tokenizer_config.json`` (and the chat template) to folder."""
    from transformers import PreTrainedTokenizerFast
    from transformers.integrations.gguf import convert_gguf_tokenizer

    architecture, fields, config = tokenizer_parts(read_gguf_metadata(gguf))
    backend, extra = convert_gguf_tokenizer(architecture, fields)
    PreTrainedTokenizerFast(tokenizer_object=backend, **config, **extra).save_pretrained(folder)


if __name__ == "__main__":
    try:
        build_tokenizer_folder(Path(sys.argv[1]), Path(sys.argv[2]))
    except (ValueError, OSError, ImportError) as error:
        sys.exit(f"{type(error).__name__}: {error}")
