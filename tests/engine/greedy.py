"""Comparing greedy outputs of the same prompt across runs, honestly on both runners.

llama.cpp's CPU kernels give slightly different logits for the same sequence when the batch
around it changes (measured on SmolLM2: up to ~0.2 nats), so two greedy runs can part at a
near-tie. There the property checked is: identical up to the first difference, logprobs close
until then, and the two best tokens nearly tied where they part. On transformers: identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LLAMA_CPP_LOGPROB_TOLERANCE = 0.5
TWIN_OPTIONS = {"return_logprob": True, "top_logprobs_num": 2}


@dataclass
class GreedyRun:
    """Output ids, each chosen token's logprob, and the two best logprobs at each step."""

    ids: list[int]
    logprobs: list[float]
    top2: list[tuple[float, float]]

    @classmethod
    def from_output(cls, out: Any) -> GreedyRun:
        """From a scheduler ``RequestOutput``."""
        return cls(
            list(out.output_ids),
            [e[0] for e in out.output_token_logprobs],
            [(t[0][0], t[1][0]) for t in out.output_top_logprobs],
        )

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> GreedyRun:
        """From SGLang's ``meta_info`` of a ``/generate`` answer with logprobs."""
        return cls(
            [e[1] for e in meta["output_token_logprobs"]],
            [e[0] for e in meta["output_token_logprobs"]],
            [(t[0][0], t[1][0]) for t in meta["output_top_logprobs"]],
        )


def assert_same_greedy(got: GreedyRun, want: GreedyRun, runner: str) -> None:
    """Equal ids on transformers; on llama.cpp equal until a near-tie (see the module doc)."""
    if runner != "llama.cpp" or got.ids == want.ids:
        assert got.ids == want.ids
        return
    k = next(i for i, (a, b) in enumerate(zip(got.ids, want.ids, strict=False)) if a != b)
    before = zip(got.logprobs[:k], want.logprobs[:k], strict=True)
    worst = max((abs(a - b) for a, b in before), default=0.0)
    assert worst < LLAMA_CPP_LOGPROB_TOLERANCE, (k, worst)
    gaps = [run.top2[k][0] - run.top2[k][1] for run in (got, want)]
    assert min(gaps) < LLAMA_CPP_LOGPROB_TOLERANCE, (k, gaps)
