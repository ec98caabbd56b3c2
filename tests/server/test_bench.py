"""``server.bench()`` on SGLang's bench_serving: options, argv, the tokenizer folder (built from
the default GGUF model), a real run against the CPU engine, and the bad inputs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import sgl_notebook
from sgl_notebook.server.bench_setup import (
    BenchError,
    BenchOptions,
    backend_for,
    bench_argv,
    options_from,
    resolve_tokenizer,
)


def _no_bench_left() -> bool:
    """No bench_serving child of this process (other suites on the machine may run theirs)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if "sglang.bench_serving" in " ".join(child.cmdline()):
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def test_argv_for_both_datasets() -> None:
    random = bench_argv(BenchOptions(num_prompts=5, max_concurrency=2, request_rate=3.0),
                        "http://h:1/", "sglang", "/tok", "m", "/o.jsonl")
    text = " ".join(random)
    assert "-m sglang.bench_serving --backend sglang --base-url http://h:1 " in text
    assert "--dataset-name random-ids" in text and "--random-input-len 128" in text
    assert "--max-concurrency 2" in text and "--request-rate 3.0" in text
    assert "--output-details" in text and "--random-range-ratio 1.0" in text
    shared = bench_argv(BenchOptions(dataset="shared-prefix", groups=2, prompts_per_group=3),
                        "http://h:1", "vllm", "/tok", None, "/o.jsonl")
    assert shared[shared.index("--dataset-name") + 1] == "generated-shared-prefix"
    assert shared[shared.index("--num-prompts") + 1] == "6"
    assert "--gsp-num-groups" in shared and "--model" not in shared
    assert "--request-rate" in shared and shared[shared.index("--request-rate") + 1] == "inf"
    assert (backend_for("vllm"), backend_for("cpu"), backend_for("sglang")) == (
        "vllm", "sglang", "sglang")


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ({"dataset": "sharegpt"}, "unknown dataset 'sharegpt'"),
        ({"backend": "tgi"}, "unknown backend 'tgi'"),
        ({"num_prompts": 0}, "num-prompts must be at least 1"),
        ({"output_len": -1}, "output-len must be at least 1"),
        ({"max_concurrency": 0}, "max-concurrency must be at least 1"),
        ({"request_rate": 0.0}, "request-rate must be above 0"),
        ({"num_prompt": 3}, "Did you mean 'num_prompts'?"),
    ],
)
def test_bad_options_are_one_line(load: dict[str, Any], message: str) -> None:
    with pytest.raises(BenchError) as caught:
        options_from(load)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_tokenizer_from_a_folder_a_hub_id_or_nothing(tiny_model_dir: Path) -> None:
    assert resolve_tokenizer({"tokenizer_path": str(tiny_model_dir)}) == (
        str(tiny_model_dir), "the server's tokenizer folder")
    assert resolve_tokenizer({"model_path": "Qwen/Qwen2.5-7B-Instruct"})[0] == (
        "Qwen/Qwen2.5-7B-Instruct")
    with pytest.raises(BenchError, match="did not say its tokenizer"):
        resolve_tokenizer({})


def test_tokenizer_folder_built_once_from_the_gguf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SGL_NOTEBOOK_CACHE", str(tmp_path))
    folder, how = resolve_tokenizer({"model_path": "smollm2", "tokenizer_path": "smollm2"})
    assert Path(folder).parent == tmp_path / "tokenizers" and "built from" in how
    assert (Path(folder) / "tokenizer_config.json").is_file()
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(folder)("Hello")["input_ids"]
    stamp = (Path(folder) / "tokenizer_config.json").stat().st_mtime
    assert resolve_tokenizer({"model_path": "smollm2"})[0] == folder  # reused, not rebuilt
    assert (Path(folder) / "tokenizer_config.json").stat().st_mtime == stamp


@pytest.fixture(scope="module")
def smollm2() -> Iterator[Any]:
    server = sgl_notebook.launch(engine="cpu", name="bench-smollm2")
    try:
        yield server
    finally:
        server.stop()


def test_a_real_run_against_the_default_gguf_model(smollm2: Any) -> None:
    result = smollm2.bench(num_prompts=2, input_len=8, output_len=4, max_concurrency=2,
                           live=False)
    summary = result.summary
    assert summary["completed"] == 2 and summary["output_throughput"] > 0
    for key in ("request_throughput", "input_throughput", "median_ttft_ms", "p99_itl_ms",
                "mean_e2e_latency_ms", "concurrency"):
        assert key in summary
    frame = result.df()
    assert len(frame) == 2 and (frame["output_len"] == 4).all() and (frame["e2e_ms"] > 0).all()
    bundle = result._repr_mimebundle_()
    assert "Output throughput" in bundle["text/html"] and "<svg" in bundle["text/html"]
    assert "bench_serving on bench-smollm2" in bundle["text/plain"]
    assert "built from" in result.tokenizer_note or "tokenizer folder" in result.tokenizer_note
    assert _no_bench_left()
    assert math.isfinite(result.rows[0]["ttft_ms"])


def test_a_stopped_server_is_one_line(tiny_model_dir: Path) -> None:
    server = sgl_notebook.launch(str(tiny_model_dir), engine="cpu", name="bench-stopped")
    server.stop()
    with pytest.raises(BenchError) as caught:
        server.bench(num_prompts=2, live=False)
    assert "not running" in str(caught.value) and "\n" not in str(caught.value)
    assert _no_bench_left()


def test_anything_with_a_url_can_be_benchmarked(tiny_model_dir: Path, tmp_path: Path) -> None:
    """A router or a plain URL: no ``http()``, the model info is asked over the URL."""
    from types import SimpleNamespace

    from sgl_notebook.server.bench import run_bench
    from tests.fixtures.engine_servers import start_engine

    with start_engine(str(tiny_model_dir), [], tmp_path) as engine:
        target = SimpleNamespace(name="plain-url", url=engine.url, api_key=None,
                                 engine="sglang", model=None,
                                 is_alive=lambda: engine.process.poll() is None)
        result = run_bench(target, BenchOptions(num_prompts=2, input_len=8, output_len=4))
    assert result.summary["completed"] == 2 and result.server == "plain-url"
    assert "the server's tokenizer folder" in result.tokenizer_note
    assert _no_bench_left()
