"""SGLang 0.4.10's scheduler log messages, formatted exactly as ``scheduler_metrics_mixin.py`` does.

These are the message parts; the logger adds ``[YYYY-mm-dd HH:MM:SS] `` in front
(see :func:`format_log_prefix`). Each field is followed by ``", "``, so lines end with a trailing
separator, as in SGLang 0.4.10.

>>> line = format_prefill_batch(new_seq=1, new_token=6, cached_token=0, token_usage=0.0,
...                             running_req=0, queue_req=0)
>>> line[:56]
'Prefill batch. #new-seq: 1, #new-token: 6, #cached-token'
>>> line.endswith("token usage: 0.00, #running-req: 0, #queue-req: 0, ")
True
"""

from __future__ import annotations

from datetime import datetime

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
READY_MESSAGE = "The server is fired up and ready to roll!"


def format_log_prefix(when: datetime) -> str:
    """``[2025-07-28 04:59:51] `` -- SGLang's main-process prefix (no level, no rank tag)."""
    return f"[{when.strftime(TIMESTAMP_FORMAT)}] "


def format_prefill_batch(
    *,
    new_seq: int,
    new_token: int,
    cached_token: int,
    token_usage: float,
    running_req: int,
    queue_req: int,
) -> str:
    return (
        f"Prefill batch. #new-seq: {new_seq}, #new-token: {new_token}, "
        f"#cached-token: {cached_token}, token usage: {token_usage:.2f}, "
        f"#running-req: {running_req}, #queue-req: {queue_req}, "
    )


def format_decode_batch(
    *,
    running_req: int,
    num_token: int,
    token_usage: float,
    gen_throughput: float,
    queue_req: int,
    cuda_graph: bool = False,
) -> str:
    return (
        f"Decode batch. #running-req: {running_req}, #token: {num_token}, "
        f"token usage: {token_usage:.2f}, cuda graph: {cuda_graph}, "
        f"gen throughput (token/s): {gen_throughput:.2f}, #queue-req: {queue_req}, "
    )
