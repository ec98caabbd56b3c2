"""Logging set up exactly as SGLang 0.4.10 does it.

* Engine messages: ``logging.basicConfig`` on stderr, ``[%Y-%m-%d %H:%M:%S] message`` (no level,
  no rank tag), level from ``--log-level`` (``srt/utils.py::configure_logger``).
* Uvicorn: its stock handlers (default logger on stderr, access logger on stdout) with SGLang's
  ``[time] INFO:     `` formats (``srt/utils.py::set_uvicorn_logging_configs``), level from
  ``--log-level-http`` falling back to ``--log-level``.
"""

from __future__ import annotations

import copy
import logging
import sys
from typing import Any

from sgl_notebook.protocol.sglang_format import TIMESTAMP_FORMAT

ENGINE_LOGGER = "sgl_notebook.engine"
LOG_FORMAT = "[%(asctime)s] %(message)s"
UVICORN_DEFAULT_FORMAT = "[%(asctime)s] %(levelprefix)s %(message)s"
UVICORN_ACCESS_FORMAT = (
    '[%(asctime)s] %(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
)


def configure_logging(log_level: str) -> logging.Logger:
    """Configure the root logger as SGLang does and return the engine's logger."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format=LOG_FORMAT,
        datefmt=TIMESTAMP_FORMAT,
        stream=sys.stderr,
        force=True,
    )
    # The warm-up's HTTP client would log every request; SGLang's (requests) does not.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return logging.getLogger(ENGINE_LOGGER)


def uvicorn_log_config() -> dict[str, Any]:
    """Uvicorn's own logging config with SGLang's formats (levels are set by ``log_level``)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["default"]["fmt"] = UVICORN_DEFAULT_FORMAT
    config["formatters"]["default"]["datefmt"] = TIMESTAMP_FORMAT
    config["formatters"]["access"]["fmt"] = UVICORN_ACCESS_FORMAT
    config["formatters"]["access"]["datefmt"] = TIMESTAMP_FORMAT
    return config


def format_gb(n_bytes: float) -> str:
    """Bytes as SGLang prints memory: gigabytes with two decimals (``1.23``)."""
    return f"{n_bytes / (1 << 30):.2f}"


def available_cpu_memory_gb() -> str:
    """Free system memory, SGLang's ``avail mem=`` figure for a CPU device."""
    import psutil

    return format_gb(psutil.virtual_memory().available)
