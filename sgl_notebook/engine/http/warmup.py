"""The start-up warm-up, as SGLang's ``_execute_server_warmup`` (a thread beside uvicorn).

It waits until ``GET /get_model_info`` answers, sends ``POST /generate`` "The capital city of
France is" (8 tokens, temperature 0) -- or ``/encode`` for an embedding model -- then marks the
server up (``/health`` turns 200) and logs ``The server is fired up and ready to roll!``. On
failure it logs ``Initialization failed. warmup error: ...`` and kills the process, as SGLang.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback

import httpx

from sgl_notebook.protocol.sglang_format import READY_MESSAGE

from .engine_state import EngineState

logger = logging.getLogger("sgl_notebook.engine")

WARMUP_PROMPT = "The capital city of France is"
MODEL_INFO_WAIT_S = 120.0
POLL_INTERVAL_S = 0.2


def _base_url(state: EngineState) -> str:
    host = state.args.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # the wildcard binds every interface; talk to ourselves locally
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{state.args.port}"


def execute_warmup(state: EngineState) -> bool:
    """Run the warm-up requests; True once the server is up."""
    headers = {"Authorization": f"Bearer {state.args.api_key}"} if state.args.api_key else {}
    url = _base_url(state)
    last_error = ""
    deadline = time.monotonic() + MODEL_INFO_WAIT_S
    info = None
    with httpx.Client(timeout=600, headers=headers, trust_env=False) as client:
        while time.monotonic() < deadline:
            try:
                res = client.get(url + "/get_model_info", timeout=5)
                if res.status_code == 200:
                    info = res.json()
                    break
                last_error = f"GET /get_model_info answered {res.status_code}: {res.text}"
            except httpx.HTTPError:
                last_error = traceback.format_exc()
            time.sleep(POLL_INTERVAL_S)  # uvicorn is still binding: poll again
        if info is None:
            logger.error(f"Initialization failed. warmup error: {last_error}")
            return False
        generation = bool(info["is_generation"])
        body = {
            "text": WARMUP_PROMPT,
            "sampling_params": {"temperature": 0, "max_new_tokens": 8 if generation else 1},
        }
        try:
            res = client.post(url + ("/generate" if generation else "/encode"), json=body)
            assert res.status_code == 200, f"{res}, {res.text}"
        except Exception:  # noqa: BLE001 -- any failure here is a failed start, as in SGLang
            logger.error(f"Initialization failed. warmup error: {traceback.format_exc()}")
            return False
    return True


def wait_and_warmup(state: EngineState) -> None:
    """Thread body: warm up (unless skipped), then announce readiness."""
    if not state.args.skip_server_warmup and not execute_warmup(state):
        os.kill(os.getpid(), signal.SIGKILL)  # SGLang kills its own process tree
        return
    state.server_up = True
    logger.info(READY_MESSAGE)


def start_warmup_thread(state: EngineState) -> threading.Thread:
    thread = threading.Thread(target=wait_and_warmup, args=(state,), name="warmup", daemon=True)
    thread.start()
    return thread
