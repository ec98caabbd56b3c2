"""Launch phases parsed from a server's startup log (SGLang 0.4.10 / 0.5.x, the CPU engine, vLLM).

Pure and stdlib only. One line in, one :class:`PhaseEvent` (or None) out; the parser never raises.

>>> parse_phase_line("[2025-07-28 04:59:51] Load weight begin. avail mem=78.50 GB").phase
<LaunchPhase.LOADING_WEIGHTS: 'loading_weights'>
>>> parse_phase_line("Loading safetensors checkpoint shards:  25% Completed | 1/4 [00:01]").progress
0.25
>>> parse_phase_line("[2025-07-28 04:59:58] The server is fired up and ready to roll!").phase
<LaunchPhase.READY: 'ready'>
>>> parse_phase_line("[2025-07-28 04:59:51] Prefill batch. #new-seq: 1, ") is None
True
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from datetime import datetime

__all__ = ["LaunchPhase", "PhaseEvent", "parse_phase_line", "split_log_prefix", "PHASE_ORDER"]


class LaunchPhase(enum.Enum):
    """Where a server is on its way up. Ordered: compare with :data:`PHASE_ORDER`."""

    STARTING = "starting"
    LOADING_WEIGHTS = "loading_weights"
    KV_CACHE = "kv_cache"
    GRAPH_CAPTURE = "graph_capture"
    WARMUP = "warmup"
    READY = "ready"
    FAILED = "failed"


PHASE_ORDER: dict[LaunchPhase, int] = {phase: index for index, phase in enumerate(LaunchPhase)}


@dataclass(frozen=True)
class PhaseEvent:
    """One step of a launch: the phase, a short message for people, progress in [0, 1] if known."""

    phase: LaunchPhase
    message: str
    progress: float | None = None
    timestamp: datetime | None = None


# ``[2025-07-28 04:59:51] `` / ``[2025-07-28 04:59:51.123 TP0] `` / ``[... DP0 TP1] ``
_SGLANG_PREFIX = re.compile(
    r"^\[(?P<ts>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(?P<ms>\d{1,6}))?"
    r"(?P<tags>(?: [A-Z_]+\d+)*)\] ?"
)
# ``(APIServer pid=3402897) INFO 08-17 02:59:34 [loggers.py:310] `` (prefix and brackets optional)
_VLLM_PREFIX = re.compile(
    r"^(?:\((?P<proc>[A-Za-z_0-9]+) pid=\d+\) )?"
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<ts>\d{2}-\d{2} \d{2}:\d{2}:\d{2})"
    r"(?:\.\d+)? \[?[\w./-]+:\d+\] ?"
)
_VLLM_PROC_ONLY = re.compile(r"^\((?P<proc>[A-Za-z_0-9]+) pid=\d+\) ")
# tqdm: ``desc:  25% Completed | 1/4 [..]`` (SGLang's bar) or ``desc:  25%|██   | 1/4 [..]``
_TQDM = re.compile(
    r"^(?P<desc>[^\n]*?):\s*(?P<pct>\d{1,3})%(?: Completed \||\|[^|]*\|)\s*"
    r"(?P<n>\d+)/(?P<total>\d+)"
)
# uvicorn's ``INFO:     `` level prefix (after SGLang's timestamp or vLLM's pid tag)
_UVICORN_LEVEL = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_GRAPH_CAPTURE = re.compile(r"Capture (?:\w+ )*(?:cuda|CUDA|CPU|NPU) graph")
_KV_TOKENS = re.compile(r"#tokens: (\d+)")
# First characters a level name can start with (a cheap test before the prefix regexes).
_LEVEL_INITIALS = frozenset("DIWEC")


@functools.lru_cache(maxsize=256)
def _strptime(text: str, fmt: str) -> datetime:
    # Consecutive log lines share their timestamp, and strptime costs microseconds.
    return datetime.strptime(text, fmt)


def split_log_prefix(line: str, dialect: str = "sglang") -> tuple[datetime | None, str]:
    """Strip a log line's timestamp/level prefix; return ``(timestamp or None, message)``.

    >>> split_log_prefix("[2025-07-28 04:59:51 TP0] Prefill batch.")
    (datetime.datetime(2025, 7, 28, 4, 59, 51), 'Prefill batch.')
    """
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    line = line.rstrip("\r\n")
    # tqdm redraws with carriage returns; the last segment is what is on screen.
    if "\r" in line:
        parts = [part for part in line.split("\r") if part.strip()]
        line = parts[-1] if parts else ""
    first = line[:1]
    match = _SGLANG_PREFIX.match(line) if first == "[" else None
    if match:
        when = _strptime(match["ts"], "%Y-%m-%d %H:%M:%S")
        if match["ms"]:
            when = when.replace(microsecond=int(match["ms"].ljust(6, "0")))
        return when, line[match.end() :]
    if first != "(" and first not in _LEVEL_INITIALS:
        return None, line
    match = _VLLM_PREFIX.match(line)
    if match:
        month_day_time = _strptime(match["ts"], "%m-%d %H:%M:%S")
        # vLLM prints no year; assume this year (a launch does not straddle New Year's Eve).
        return month_day_time.replace(year=datetime.now().year), line[match.end() :]
    match = _VLLM_PROC_ONLY.match(line)
    if match:
        return None, line[match.end() :]
    return None, line


# Fatal markers, for every dialect. A FAILED event means "this launch is going down".
_FAILURE_MARKERS: tuple[tuple[str, str], ...] = (
    ("Scheduler hit an exception", "the scheduler hit an exception"),
    ("Received sigquit from a child process", "a child process failed"),
    ("scheduler is dead", "the scheduler died"),
    ("scheduler died during initialization", "the scheduler died during initialization"),
    ("Initialization failed", "initialization failed"),
    ("CUDA out of memory", "out of GPU memory"),
    ("OutOfMemoryError", "out of memory"),
    ("Not enough memory. Please try to increase --mem-fraction-static", "not enough memory"),
    ("No available memory for the cache blocks", "not enough memory for the KV cache"),
    ("Address already in use", "the port is already in use"),
    ("address already in use", "the port is already in use"),
    ("is not a local folder and is not a valid model identifier", "model not found"),
    ("HFValidationError", "invalid model path"),
    ("Engine core initialization failed", "the engine core failed to start"),
    ("EngineCore failed to start", "the engine core failed to start"),
    ("ModuleNotFoundError: No module named", "a package is missing"),
)


# One search instead of a loop of substring tests: most lines are not failures.
_FAILURE_PATTERN = re.compile("|".join(re.escape(marker) for marker, _ in _FAILURE_MARKERS))
_FAILURE_REASONS = dict(_FAILURE_MARKERS)

# Every SGLang startup message starts with one of these or contains one of the others; anything
# else is rejected with two C-level calls before the chain of tests below.
_SGLANG_STARTS = (
    "The server is fired up and ready to roll",
    "server_args=",
    "Init torch distributed begin",
    "Load weight begin",
    "Load weight end",
    "Memory pool end",
    "Capture ",
    "max_total_num_tokens=",
)
_SGLANG_CONTAINS = ("KV Cache is allocated", "VA upper bound", "Uvicorn running on",
                    "Application startup complete")


def _tqdm_event(message: str, when: datetime | None) -> PhaseEvent | None:
    match = _TQDM.match(message) if "%" in message else None
    if not match:
        return None
    desc = match["desc"].strip()
    total = int(match["total"])
    done = int(match["n"])
    progress = min(1.0, done / total) if total > 0 else None
    lowered = desc.lower()
    if "checkpoint shards" in lowered or ("loading" in lowered and "weight" in lowered):
        return PhaseEvent(
            LaunchPhase.LOADING_WEIGHTS, f"Loading weights: shard {done}/{total}", progress, when
        )
    if "capturing" in lowered or "graph" in lowered:
        return PhaseEvent(
            LaunchPhase.GRAPH_CAPTURE, f"Capturing graphs: {done}/{total}", progress, when
        )
    return None


def _sglang_event(message: str, when: datetime | None) -> PhaseEvent | None:
    if not message.startswith(_SGLANG_STARTS) and not any(
        marker in message for marker in _SGLANG_CONTAINS
    ):
        return None

    def event(phase: LaunchPhase, text: str, progress: float | None = None) -> PhaseEvent:
        return PhaseEvent(phase, text, progress, when)

    if message.startswith("The server is fired up and ready to roll"):
        return event(LaunchPhase.READY, "Ready", 1.0)
    if message.startswith("server_args="):
        return event(LaunchPhase.STARTING, "Parsed server arguments")
    if message.startswith("Init torch distributed begin"):
        return event(LaunchPhase.STARTING, "Initialising the runtime")
    if message.startswith("Load weight begin"):
        return event(LaunchPhase.LOADING_WEIGHTS, "Loading weights", 0.0)
    if message.startswith("Load weight end"):
        return event(LaunchPhase.LOADING_WEIGHTS, "Weights loaded", 1.0)
    if "KV Cache is allocated" in message or "VA upper bound" in message:
        tokens = _KV_TOKENS.search(message)
        text = f"KV cache allocated ({tokens[1]} tokens)" if tokens else "KV cache allocated"
        return event(LaunchPhase.KV_CACHE, text)
    if message.startswith("Memory pool end"):
        return event(LaunchPhase.KV_CACHE, "Memory pool ready")
    if _GRAPH_CAPTURE.match(message):
        done = " end" in message or "end." in message
        return event(
            LaunchPhase.GRAPH_CAPTURE,
            "Graphs captured" if done else "Capturing graphs",
            1.0 if done else None,
        )
    if message.startswith("max_total_num_tokens="):
        return event(LaunchPhase.WARMUP, "Scheduler ready; starting the HTTP server")
    if "Uvicorn running on" in message or "Application startup complete" in message:
        return event(LaunchPhase.WARMUP, "HTTP server up; warming up")
    return None


def _vllm_event(message: str, when: datetime | None) -> PhaseEvent | None:
    def event(phase: LaunchPhase, text: str, progress: float | None = None) -> PhaseEvent:
        return PhaseEvent(phase, text, progress, when)

    lowered = message.lower()
    if message.startswith("Application startup complete"):
        # vLLM serves HTTP only after the engine is fully up.
        return event(LaunchPhase.READY, "Ready", 1.0)
    if message.startswith("Starting vLLM API server"):
        return event(LaunchPhase.WARMUP, "Starting the API server")
    if lowered.startswith("init engine (profile, create kv cache, warmup model)"):
        return event(LaunchPhase.WARMUP, "Engine initialised")
    if "starting to load model" in lowered:
        return event(LaunchPhase.LOADING_WEIGHTS, "Loading weights", 0.0)
    if lowered.startswith("loading weights took") or lowered.startswith("model loading took"):
        return event(LaunchPhase.LOADING_WEIGHTS, "Weights loaded", 1.0)
    if (
        "kv cache size" in lowered
        or "available kv cache memory" in lowered
        or "# gpu blocks" in lowered
        or lowered.startswith("maximum concurrency for")
        or lowered.startswith("memory profiling takes")
    ):
        return event(LaunchPhase.KV_CACHE, "Sizing the KV cache")
    if "graph capturing finished" in lowered:
        return event(LaunchPhase.GRAPH_CAPTURE, "Graphs captured", 1.0)
    if "torch.compile" in lowered or "capturing cuda graph" in lowered or "cudagraph" in lowered:
        return event(LaunchPhase.GRAPH_CAPTURE, "Compiling and capturing graphs")
    if message.startswith("Initializing") and "engine" in lowered:
        return event(LaunchPhase.STARTING, "Initialising the engine")
    return None


def parse_phase_line(line: str, dialect: str = "sglang") -> PhaseEvent | None:
    """The launch phase a log line announces, or None for any other line. Never raises.

    ``dialect`` is ``"sglang"`` (SGLang 0.4.10 and 0.5.x), ``"cpu"`` (the bundled engine, which
    logs like SGLang 0.4.10) or ``"vllm"``. Unknown dialects are parsed like SGLang.
    """
    try:
        when, message = split_log_prefix(line, dialect)
        if message[:1] in _LEVEL_INITIALS:
            message = _UVICORN_LEVEL.sub("", message)
        if not message.strip():
            return None
        failure = _FAILURE_PATTERN.search(message)
        if failure is not None:
            reason = _FAILURE_REASONS[failure[0]]
            return PhaseEvent(LaunchPhase.FAILED, f"Failed: {reason}", None, when)
        tqdm = _tqdm_event(message, when)
        if tqdm is not None:
            return tqdm
        if dialect == "vllm":
            return _vllm_event(message, when)
        return _sglang_event(message, when)
    except Exception:  # noqa: BLE001 -- a log line must never break the pump
        return None
