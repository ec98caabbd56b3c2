"""Scheduler event lines and newer batch-line forms, as SGLang prints them (0.4.10 and 0.5.x)."""

from __future__ import annotations

RETRACTION_0410 = (
    "[2025-07-28 05:10:00] KV cache pool is full. Retract requests. #retracted_reqs: 1, "
    "#new_token_ratio: 0.9998 -> 1.0000"
)
RETRACTION_05 = (
    "[2026-03-01 08:10:00 TP0] KV cache pool is full. Retract requests. #retracted_reqs: 3, "
    "#aborted_retracted_reqs: 0, #new_token_ratio: 0.4000 -> 0.7000"
)
PREFILL_OOM = "[2025-07-28 05:10:01] Prefill out of memory. Try to lower your batch size."
CRASH_05 = (
    "[2026-09-20 15:33:22] Subprocess scheduler_0 (pid=168915) crashed with exit code -9. "
    "Triggering SIGQUIT for cleanup..."
)
CRASH_0410 = "[2025-07-28 05:10:02] Scheduler hit an exception: Traceback (most recent call last):"
SIGTERM = (
    "[2026-09-20 15:33:22] SIGTERM received. signum=None frame=None. Draining requests and "
    "shutting down..."
)
GRACEFUL_EXIT = (
    "[2026-09-14 20:17:42] Gracefully exiting... Remaining number of requests 2. Remaining "
    "requests remaining_rids=['a', 'b']."
)
WARMUP_ACCESS = (
    '[2025-07-28 04:59:50] INFO:     127.0.0.1:51234 - "GET /get_model_info HTTP/1.1" 200 OK'
)
UVICORN_RUNNING = (
    "[2025-07-28 04:59:50] INFO:     Uvicorn running on http://127.0.0.1:30000 "
    "(Press CTRL+C to quit)"
)
READY = "[2025-07-28 04:59:51] The server is fired up and ready to roll!"
SPEC_DECODE_0523 = (
    "[2026-03-01 08:00:05] Decode batch, #running-req: 4, #token: 900, token usage: 0.05, "
    "accept len: 2.75, accept rate: 0.69, cuda graph: True, gen throughput (token/s): 310.50, "
    "#queue-req: 0"
)
SPEC_DECODE_0410 = (
    "[2025-07-28 05:00:05] Decode batch. #running-req: 2, #token: 300, token usage: 0.02, "
    "accept len: 3.10, cuda graph: True, gen throughput (token/s): 120.00, #queue-req: 0, "
)
HISPARSE_DECODE = (
    "[2026-03-01 08:00:06] Decode batch, #running-req: 3, #gpu token: 640, gpu token usage: 0.25, "
    "#cpu token: 100, cpu token usage: 0.05, cuda graph: True, gen throughput (token/s): 5.96, "
    "#queue-req: 1"
)
MAMBA_DECODE = (
    "[2026-09-14 20:13:56] Decode batch, #running-req: 1, #full token: 2496, full token usage: "
    "0.00, mamba num: 4, mamba usage: 0.13, cuda graph: False, gen throughput (token/s): 10.43, "
    "#queue-req: 0"
)
SWA_DECODE = (
    "[2025-07-28 05:00:01] Decode batch. #running-req: 1, #full token: 64, full token usage: 0.01, "
    "#swa token: 32, swa token usage: 0.02, cuda graph: True, gen throughput (token/s): 50.00, "
    "#queue-req: 0, "
)
