"""Run SGLang's own load generator, ``python -m sglang.bench_serving``, against a server.

:func:`run_bench` starts bench_serving as a subprocess in its own session (so a kernel
interrupt reaches only us), reads its progress bar while it runs, watches that the server stays
up, and returns a :class:`~sgl_notebook.stats.bench_result.BenchResult` from bench_serving's own
``--output-details`` file. Failures raise :class:`BenchError` with one line; an interrupt stops
the run and returns the partial summary (``result.interrupted``). The subprocess never outlives
the call.

    result = run_bench(server, BenchOptions(num_prompts=20, max_concurrency=4))
    result.summary["output_throughput"], result.df()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sgl_notebook.server.bench_setup import (
    BenchError,
    BenchOptions,
    backend_for,
    bench_argv,
    resolve_tokenizer,
)
from sgl_notebook.stats.bench_result import BenchResult

__all__ = ["BenchProgress", "run_bench", "BenchError", "BenchOptions"]

_BAR = re.compile(r"(\d+)/(\d+) \[")
CHECK_SERVER_EVERY_S = 1.0


@dataclass
class BenchProgress:
    """Where a run is: requests done of total, seconds so far, the phase, bench's last line."""

    done: int = 0
    total: int = 0
    elapsed: float = 0.0
    phase: str = "starting"  # starting, warmup, running, finished, interrupted, failed
    last_line: str = ""


class _Output:
    """Reads the child's merged output: tqdm's ``\\r`` refreshes become lines too."""

    def __init__(self, stream: Any, progress: BenchProgress) -> None:
        self.lines: deque[str] = deque(maxlen=200)
        self.progress = progress
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        buffer = ""
        for chunk in iter(lambda: stream.read1(4096) if hasattr(stream, "read1")
                          else stream.read(4096), b""):
            buffer += chunk.decode("utf-8", errors="replace")
            *complete, buffer = re.split(r"[\r\n]", buffer)
            for line in complete:
                self._line(line.strip())
        self._line(buffer.strip())

    def _line(self, line: str) -> None:
        if not line:
            return
        self.lines.append(line)
        self.progress.last_line = line
        bar = _BAR.search(line)
        if bar and self.progress.phase in ("running", "warmup", "starting"):
            self.progress.done, self.progress.total = int(bar.group(1)), int(bar.group(2))
            self.progress.phase = "running"
        elif "Starting warmup" in line:
            self.progress.phase = "warmup"
        elif "Starting main benchmark" in line or "Benchmark" in line and "Result" not in line:
            self.progress.phase = "running"

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def reason(self) -> str:
        """The line that best says why the run failed."""
        for line in reversed(self.lines):
            if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line) or "Error" in line[:80]:
                return line
        return self.lines[-1] if self.lines else "no output"


def _stop(process: subprocess.Popen[bytes]) -> None:
    from sgl_notebook.server.proctree import terminate_tree

    with contextlib.suppress(Exception):
        terminate_tree(process.pid, process.pid, timeout=5.0)
    with contextlib.suppress(Exception):
        process.kill()
    with contextlib.suppress(Exception):
        process.wait(5.0)


def _alive(server: Any) -> bool:
    try:
        return bool(server.is_alive())
    except Exception:  # noqa: BLE001 -- a probe that breaks means "not answering"
        return False


def _model_info(server: Any) -> dict[str, Any]:
    """The server's ``/get_model_info`` (a router passes it on to a worker)."""
    try:
        if callable(getattr(server, "http", None)):
            return dict(server.http().model_info())
        from sgl_notebook.client import SglClient

        with SglClient(str(server.url), api_key=getattr(server, "api_key", None)) as client:
            return dict(client.model_info())
    except Exception as exc:  # noqa: BLE001 -- one line for the person, whatever broke
        if not _alive(server):
            raise BenchError(_not_running(server)) from None
        summary = getattr(exc, "summary", None) or str(exc).splitlines()[0]
        raise BenchError(f"cannot benchmark {getattr(server, 'name', 'the server')}: "
                         f"{summary}") from None


def _not_running(server: Any) -> str:
    name = getattr(server, "name", "server")
    return f"server {name!r} is not running; start it (%sgl restart {name}) and try again"


def _partial(progress: BenchProgress) -> dict[str, Any]:
    rate = progress.done / progress.elapsed if progress.elapsed > 0 else None
    return {"completed": progress.done, "total": progress.total,
            "duration": round(progress.elapsed, 3), "request_throughput": rate}


def run_bench(
    server: Any,
    options: BenchOptions | None = None,
    *,
    on_progress: Callable[[BenchProgress], None] | None = None,
    python: str | None = None,
    timeout: float | None = None,
) -> BenchResult:
    """Put ``options``' load on ``server`` with bench_serving; see the module docstring.

    ``python``: the interpreter that has sglang (default: this one). ``timeout``: seconds
    before the run is stopped (None: no limit).
    """
    options = (options or BenchOptions()).check()
    name = str(getattr(server, "name", "server"))
    if not _alive(server):
        raise BenchError(_not_running(server))
    info = _model_info(server)
    tokenizer, note = (options.tokenizer, "given") if options.tokenizer else resolve_tokenizer(
        info, python)
    backend = options.backend or backend_for(
        str(getattr(server, "engine", "sglang")), behind_router=hasattr(server, "workers")
    )
    model = getattr(server, "model", None) or info.get("model_path")
    with tempfile.TemporaryDirectory(prefix="sgl-bench-") as work:
        out_file = str(Path(work) / "result.jsonl")
        argv = bench_argv(options, str(server.url), backend, tokenizer, model, out_file, python)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
               "PYTHONUNBUFFERED": "1"}
        if getattr(server, "api_key", None):
            env["OPENAI_API_KEY"] = str(server.api_key)
        progress = BenchProgress(total=options.total_prompts)
        details = {"server": name, "options": _shown(options), "command": argv,
                   "tokenizer_note": f"{tokenizer} ({note})"}
        output = _watch(argv, env, work, server, progress, on_progress, timeout)
        if output is None:  # interrupted
            return BenchResult(summary=_partial(progress), interrupted=True, **details)
        return BenchResult.from_output(output, **details)


def _shown(options: BenchOptions) -> dict[str, Any]:
    keep = ["num_prompts", "max_concurrency", "request_rate", "dataset", "input_len",
            "output_len", "seed"]
    if options.dataset == "shared-prefix":
        keep = ["dataset", "groups", "prompts_per_group", "system_prompt_len", "question_len",
                "output_len", "max_concurrency", "request_rate", "seed"]
    values = asdict(options)
    return {k: values[k] for k in keep if values[k] is not None and values[k] != float("inf")}


def _watch(
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    server: Any,
    progress: BenchProgress,
    on_progress: Callable[[BenchProgress], None] | None,
    timeout: float | None,
) -> dict[str, Any] | None:
    """Run to the end; bench's JSON output, or None when interrupted."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                               start_new_session=True)
    assert process.stdout is not None
    output = _Output(process.stdout, progress)
    checked = started
    try:
        while process.poll() is None:
            time.sleep(0.2)
            progress.elapsed = time.monotonic() - started
            if on_progress is not None:
                with contextlib.suppress(Exception):
                    on_progress(progress)
            if time.monotonic() - checked >= CHECK_SERVER_EVERY_S:
                checked = time.monotonic()
                if not _alive(server):
                    raise BenchError(
                        f"server {getattr(server, 'name', '')!r} stopped during the benchmark "
                        f"(after {progress.done} of {progress.total} requests); see its log"
                    )
            if timeout is not None and progress.elapsed > timeout:
                raise BenchError(f"the benchmark ran past its timeout of {timeout:.0f} s "
                                 f"({progress.done} of {progress.total} requests done)")
    except KeyboardInterrupt:
        progress.phase = "interrupted"
        _stop(process)
        return None
    except BaseException:
        progress.phase = "failed"
        _stop(process)
        raise
    finally:
        output.join()
        progress.elapsed = time.monotonic() - started
    return _read_result(process.returncode, Path(cwd) / "result.jsonl", output, progress)


def _read_result(
    code: int | None, path: Path, output: _Output, progress: BenchProgress
) -> dict[str, Any]:
    lines = path.read_text().splitlines() if path.is_file() else []
    if code != 0 or not lines:
        progress.phase = "failed"
        raise BenchError(f"bench_serving failed (exit code {code}): {output.reason()}")
    progress.phase = "finished"
    try:
        data: dict[str, Any] = json.loads(lines[-1])
    except ValueError:
        raise BenchError("bench_serving wrote an unreadable result file") from None
    progress.done = int(data.get("completed") or progress.done)
    return data
