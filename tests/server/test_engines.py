"""Engine descriptions: argv flag by flag for sglang, vllm and cpu; auto choice; flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgl_notebook.server import engines
from sgl_notebook.server.engines import ENGINES, resolve_engine, server_args_to_flags
from sgl_notebook.server.errors import EngineNotInstalledError, UnknownEngineError


def test_server_args_to_flags() -> None:
    flags = server_args_to_flags({
        "mem_fraction_static": 0.8, "enable_metrics": True, "disable_cuda_graph": False,
        "chunked_prefill_size": None, "cuda_graph_bs": [1, 2, 4],
        "json_model_override_args": {"rope_scaling": {"factor": 2}},
    })
    assert flags == [
        "--mem-fraction-static", "0.8", "--enable-metrics", "--cuda-graph-bs", "1", "2", "4",
        "--json-model-override-args", '{"rope_scaling": {"factor": 2}}',
    ]


def test_sglang_argv() -> None:
    argv = ENGINES["sglang"].build_argv(
        python="/env/bin/python", model_path="Qwen/Qwen2.5-7B-Instruct", host="127.0.0.1",
        port=31234, api_key="k", server_args={"tp_size": 2, "enable_metrics": True},
        extra_args=("--log-level", "warning"),
    )
    assert argv == [
        "/env/bin/python", "-m", "sglang.launch_server",
        "--model-path", "Qwen/Qwen2.5-7B-Instruct",
        "--host", "127.0.0.1", "--port", "31234", "--api-key=k",
        "--tp-size", "2", "--enable-metrics", "--log-level", "warning",
    ]


def test_vllm_argv_uses_the_vllm_next_to_python(tmp_path: Path) -> None:
    (tmp_path / "vllm").write_text("")
    argv = ENGINES["vllm"].build_argv(
        python=str(tmp_path / "python"), model_path="Qwen/Qwen3-8B", host="0.0.0.0", port=8001,
        server_args={"max_model_len": 4096, "gpu_memory_utilization": 0.85},
    )
    assert argv == [
        str(tmp_path / "vllm"), "serve", "Qwen/Qwen3-8B", "--host", "0.0.0.0", "--port", "8001",
        "--max-model-len", "4096", "--gpu-memory-utilization", "0.85",
    ]


def test_cpu_argv_without_model_uses_the_engine_default() -> None:
    argv = ENGINES["cpu"].build_argv(python="py", model_path=None, host="127.0.0.1", port=30001)
    assert argv == ["py", "-m", "sgl_notebook.engine", "--host", "127.0.0.1", "--port", "30001"]


def test_engines_need_a_model_where_the_cpu_engine_does_not() -> None:
    with pytest.raises(ValueError, match="sglang needs a model"):
        ENGINES["sglang"].build_argv(python="py", model_path=None, host="h", port=1)
    with pytest.raises(ValueError, match="vllm needs a model"):
        ENGINES["vllm"].build_argv(python="py", model_path=None, host="h", port=1)


def test_readiness_and_dialects() -> None:
    described = {name: (spec.health_path, spec.dialect) for name, spec in ENGINES.items()}
    assert described == {
        "sglang": ("/health_generate", "sglang"),
        "cpu": ("/health_generate", "cpu"),
        "vllm": ("/health", "vllm"),
    }


def test_auto_without_gpu_picks_cpu_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "gpu_visible", lambda: False)
    spec, reason = resolve_engine("auto")
    assert spec.name == "cpu" and "no GPU" in reason


def test_auto_with_gpu_and_sglang_picks_sglang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "gpu_visible", lambda: True)
    monkeypatch.setattr(engines, "missing_modules", lambda python, modules: [])
    spec, reason = resolve_engine("auto", "/env/bin/python")
    assert spec.name == "sglang" and "GPU is visible" in reason
    monkeypatch.setattr(engines, "missing_modules", lambda python, modules: ["sglang.srt"])
    spec, reason = resolve_engine("auto", "/env/bin/python")
    assert spec.name == "cpu" and "cannot import sglang.srt" in reason


def test_unknown_engine() -> None:
    with pytest.raises(UnknownEngineError, match="'trt'.*sglang, vllm, cpu, auto"):
        resolve_engine("trt")


def test_missing_modules_probe_runs_the_given_python() -> None:
    assert engines.missing_modules("/usr/bin/python3", ["json", "no_such_module_xyz"]) == [
        "no_such_module_xyz"
    ]
    assert engines.missing_modules("/no/such/python", ["json"]) is None
    with pytest.raises(EngineNotInstalledError, match="cannot run the interpreter"):
        engines.check_engine_installed(ENGINES["cpu"], "/no/such/python")


def test_api_keys_starting_with_a_dash_stay_values() -> None:
    import argparse

    argv = ENGINES["sglang"].build_argv(python="py", model_path="m", host="h", port=1,
                                        api_key="-starts-with-dash")
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-key")
    known, _ = parser.parse_known_args(argv[3:])
    assert known.api_key == "-starts-with-dash"
    from sgl_notebook.server.api import generate_api_key

    assert all(not generate_api_key().startswith("-") for _ in range(200))
