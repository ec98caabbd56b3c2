"""One typed record per logged scheduler step; the log line and the ``/metrics`` gauges are both
rendered from it (SGLang's ``log_prefill_stats`` / ``log_decode_stats`` update both at once)."""

from __future__ import annotations

from dataclasses import dataclass

from sgl_notebook.protocol.sglang_format import format_decode_batch, format_prefill_batch


@dataclass(frozen=True)
class PrefillStats:
    """A ``Prefill batch.`` step."""

    new_seq: int
    new_token: int
    cached_token: int
    token_usage: float
    running_req: int
    queue_req: int

    @property
    def cache_hit_rate(self) -> float:
        total = self.new_token + self.cached_token
        return self.cached_token / total if total else 0.0

    def message(self) -> str:
        return format_prefill_batch(
            new_seq=self.new_seq,
            new_token=self.new_token,
            cached_token=self.cached_token,
            token_usage=self.token_usage,
            running_req=self.running_req,
            queue_req=self.queue_req,
        )


@dataclass(frozen=True)
class DecodeStats:
    """A ``Decode batch.`` log tick (every ``decode_log_interval`` steps)."""

    running_req: int
    num_token: int
    token_usage: float
    gen_throughput: float
    queue_req: int

    def message(self) -> str:
        return format_decode_batch(
            running_req=self.running_req,
            num_token=self.num_token,
            token_usage=self.token_usage,
            gen_throughput=self.gen_throughput,
            queue_req=self.queue_req,
        )


StepStats = PrefillStats | DecodeStats
