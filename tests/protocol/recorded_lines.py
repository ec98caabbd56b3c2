"""Log lines of each dialect, as the reference (SGLANG_PROTOCOL.md §1, §7) records them."""

from __future__ import annotations

LEGACY_PREFILL = (
    "[2025-02-19 22:18:06 TP0] Prefill batch. #new-seq: 1, #new-token: 7, #cached-token: 0, "
    "cache hit rate: 0.00%, token usage: 0.00, #running-req: 0, #queue-req: 0"
)
LEGACY_PREFILL_HIT = (
    "[2025-02-19 22:18:09 TP0] Prefill batch. #new-seq: 1, #new-token: 3, #cached-token: 12, "
    "cache hit rate: 46.15%, token usage: 0.01, #running-req: 1, #queue-req: 0"
)
LEGACY_DECODE = (
    "[2025-02-19 22:18:07 TP0] Decode batch. #running-req: 1, #token: 41, token usage: 0.00, "
    "gen throughput (token/s): 6.22, #queue-req: 0"
)
V0410_PREFILL = (
    "[2025-07-28 04:59:51] Prefill batch. #new-seq: 1, #new-token: 6, #cached-token: 0, "
    "token usage: 0.00, #running-req: 0, #queue-req: 0, "
)
V0410_DECODE = (
    "[2025-07-28 04:59:52] Decode batch. #running-req: 1, #token: 64, token usage: 0.00, "
    "cuda graph: False, gen throughput (token/s): 5.96, #queue-req: 0, "
)
V054_PREFILL = (
    "[2025-10-01 12:00:00] Prefill batch [12], #new-seq: 1, #new-token: 6, #cached-token: 0, "
    "token usage: 0.00, #running-req: 0, #queue-req: 0, "
)
V054_DECODE = (
    "[2025-10-01 12:00:01] Decode batch [52], #running-req: 1, #token: 64, token usage: 0.00, "
    "cpu graph: True, gen throughput (token/s): 5.96, #queue-req: 0, "
)
V0523_PREFILL = (
    "[2026-03-01 08:00:00] Prefill batch, #new-seq: 1, #new-token: 6, #cached-token: 0, "
    "token usage: 0.00, #running-req: 0, #queue-req: 0, #pending-token: 0, cuda graph: False, "
    "input throughput (token/s): 0.00"
)
V0523_DECODE = (
    "[2026-03-01 08:00:01] Decode batch, #running-req: 1, #token: 64, token usage: 0.00, "
    "cuda graph: False, gen throughput (token/s): 5.96, #queue-req: 0"
)
V0523_PREFILL_MS_REORDERED = (
    "[2026-03-01 08:00:02.123] Prefill batch [7], #new-seq: 2, #new-token: 30, #cached-token: 10, "
    "token usage: 0.02, #running-req: 1, #queue-req: 3, #pending-token: 5, #replay-token: 4, "
    "input throughput (token/s): 0.14, cuda graph: False"
)
SWA_PREFILL_0410 = (
    "[2025-07-28 05:00:00] Prefill batch. #new-seq: 1, #new-token: 6, #cached-token: 0, "
    "full token usage: 0.12, swa token usage: 0.30, #running-req: 0, #queue-req: 0, "
)
SWA_DECODE_0410 = (
    "[2025-07-28 05:00:01] Decode batch. #running-req: 1, #full token: 64, full token usage: 0.01, "
    "#swa token: 32, swa token usage: 0.02, cuda graph: True, gen throughput (token/s): 50.00, "
    "#queue-req: 0, "
)
MAMBA_PREFILL_0523 = (
    "[2026-03-01 08:00:03] Prefill batch, #new-seq: 1, #new-token: 6, #cached-token: 0, "
    "full token usage: 0.05, mamba usage: 0.10, #running-req: 0, #queue-req: 0, "
    "#pending-token: 0, cuda graph: False, input throughput (token/s): 12.34"
)
SPEC_DECODE_0523 = (
    "[2026-03-01 08:00:04] Decode batch, #running-req: 4, #token: 512, token usage: 0.03, "
    "accept len: 3.21, accept rate: 0.80, cuda graph: True, gen throughput (token/s): 220.50, "
    "#queue-req: 0"
)
PD_PREFILL_0410 = (
    "[2025-07-28 05:00:02 DP1 TP0] Prefill batch. #new-seq: 2, #new-token: 100, #cached-token: 0, "
    "token usage: 0.01, #unbootstrapped-req: 0, #queue-req: 1, #transferring-req: 2, "
    "input throughput (token/s): 1234.56, "
)
PD_DECODE_0410 = (
    "[2025-07-28 05:00:03] Decode batch. #running-req: 8, #token: 900, token usage: 0.05, "
    "pre-allocated usage: 0.01, #retracted-req: 0, cuda graph: True, "
    "gen throughput (token/s): 300.00, #queue-req: 0, "
)
MFU_DECODE_0523 = (
    "[2026-03-01 08:00:05] Decode batch, #running-req: 2, #token: 100, token usage: 0.01, "
    "cuda graph: True, gen throughput (token/s): 80.00, #queue-req: 0, "
    "est. decode TFLOPS/s (per GPU): 1.23, est. read BW (GB/s per GPU): 100.00, "
    "fwd occupancy: 87.50%, fwd+idle occupancy: 60.00%"
)

VLLM_V1 = (
    "(APIServer pid=3402897) INFO 08-17 02:59:34 [loggers.py:310] Engine 000: Avg prompt "
    "throughput: 5.7 tokens/s, Avg generation throughput: 1.5 tokens/s, Running: 1 reqs, "
    "Waiting: 0 reqs, GPU KV cache usage: 1.0%, Prefix cache hit rate: 0.0%"
)
VLLM_V1_PLAIN = (
    "INFO 07-01 10:00:00 [loggers.py:118] Engine 000: Avg prompt throughput: 120.3 tokens/s, "
    "Avg generation throughput: 45.0 tokens/s, Running: 12 reqs, Waiting: 3 reqs, "
    "GPU KV cache usage: 37.5%, Prefix cache hit rate: 62.4%"
)
VLLM_V1_NEWEST_DP = (
    "(APIServer pid=7) INFO 11-02 09:15:27 [loggers.py:248] 2 Engines Aggregated: Avg prompt "
    "throughput: 0.0 tokens/s, Avg generation throughput: 310.2 tokens/s, Running: 40 reqs, "
    "Waiting: 5 reqs, Deferred: 2 reqs, Preemptions: 1, GPU KV cache usage: 88.1%, "
    "Prefix cache hit rate: 12.5%, MM cache hit rate: 0.0%"
)
VLLM_V0 = (
    "INFO 08-17 02:59:34 metrics.py:345] Avg prompt throughput: 0.0 tokens/s, Avg generation "
    "throughput: 21.3 tokens/s, Running: 2 reqs, Swapped: 0 reqs, Pending: 4 reqs, "
    "GPU KV cache usage: 0.1%, CPU KV cache usage: 0.0%."
)

ACCESS_SGLANG = '[2025-07-28 04:59:51] INFO:     127.0.0.1:51234 - "POST /generate HTTP/1.1" 200 OK'
ACCESS_VLLM = (
    "(APIServer pid=3402897) INFO:     127.0.0.1:33490 - "
    '"POST /v1/chat/completions HTTP/1.1" 200 OK'
)
ACCESS_PLAIN_QUERY = (
    'INFO:     127.0.0.1:40000 - "GET /health?x=1 HTTP/1.1" 503 Service Unavailable'
)
