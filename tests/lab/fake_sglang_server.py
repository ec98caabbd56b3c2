"""A stand-in SGLang server process for the handler tests: writes SGLang 0.4.10 log lines.

Run as ``python fake_sglang_server.py LOG_PATH API_KEY``. It starts one child process (so that
stopping must end a tree), logs a ``server_args`` line holding the API key (SGLang does print it),
then a prefill line and a decode line with a changing throughput every 50 ms until killed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime

from sgl_notebook.protocol.sglang_format import (
    READY_MESSAGE,
    format_decode_batch,
    format_log_prefix,
    format_prefill_batch,
)


def main() -> None:
    log_path, api_key = sys.argv[1], sys.argv[2]
    child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    with open(log_path, "a", encoding="utf-8", buffering=1) as log:

        def say(message: str) -> None:
            log.write(format_log_prefix(datetime.now()) + message + "\n")

        say(f"server_args=ServerArgs(model_path='fake', api_key='{api_key}', port=0)")
        say(f"child pid {child.pid}")
        say(READY_MESSAGE)
        step = 0
        while True:
            step += 1
            say(
                format_prefill_batch(
                    new_seq=1,
                    new_token=30,
                    cached_token=10,
                    token_usage=0.01 * (step % 50),
                    running_req=1,
                    queue_req=0,
                )
            )
            say(
                format_decode_batch(
                    running_req=1,
                    num_token=40 + step,
                    token_usage=0.02,
                    gen_throughput=10.0 + step % 7,
                    queue_req=step % 3,
                )
            )
            time.sleep(0.05)


if __name__ == "__main__":
    main()
