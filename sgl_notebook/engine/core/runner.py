"""The seam between the scheduler and a model: what a runner does and what it reports.

The scheduler (admission, continuous batching, sampling, grammars, logprobs, aborts, log lines)
is one; below it a *runner* computes logits for a set of sequences and owns their KV. Two exist:
``runners/llamacpp`` (GGUF files on llama.cpp, the default, no torch) and
``runners/transformers`` (Hugging Face folders on torch).

A runner's contract, per engine step:

- ``prefill(states)`` computes the prompts of newly admitted requests (reusing cached prefixes it
  holds) and returns the logits of each prompt's last position, plus the logits of earlier prompt
  positions for requests that asked for input logprobs. Each state's ``cached_tokens`` is set.
- ``decode(states)`` feeds each state's last output token and returns the next logits; ``states``
  is exactly the running set, so a runner drops KV of sequences that are no longer in it.
- ``release(state)`` frees one finished or aborted sequence's KV at once.

Logits are numpy float32 arrays; sampling happens in the scheduler on numpy, the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from .request_state import RequestState


class ModelLoadError(RuntimeError):
    """The model could not be found or loaded; the message says what to do next."""


@dataclass
class ModelInfo:
    """What the server reports about the loaded model and what admission checks against."""

    model_path: str  # as given (e.g. "smollm2")
    resolved_path: str  # the file or folder the weights were read from
    context_length: int
    vocab_size: int
    eos_token_ids: list[int]
    model_class: str  # e.g. "LlamaForCausalLM"
    weight_bytes: int
    dtype: str  # e.g. "Q4_1" or "float32"
    load_seconds: float
    num_threads: int
    kv_bytes_per_token: int  # keys and values together, all layers
    runner: str  # "llama.cpp" or "transformers"
    has_chat_template: bool = False


@dataclass
class PrefillOutput:
    """Logits of one prefill step.

    ``last_logits``: [N, V], row i for ``states[i]``'s last prompt position.
    ``prompt_logits``: for rows that asked for input logprobs, [P, V] logits of prompt positions
    ``logprob_start .. prompt_len - 2`` (each predicting the following prompt token).
    """

    last_logits: np.ndarray
    new_tokens: int  # prompt tokens computed
    cached_tokens: int  # prompt tokens served from the prefix cache
    prompt_logits: dict[int, np.ndarray] = field(default_factory=dict)


class ModelRunner(Protocol):
    """A model that the scheduler drives (see the module docstring for the contract)."""

    info: ModelInfo
    tokenizer: Any

    def prefill(self, states: list[RequestState]) -> PrefillOutput: ...

    def decode(self, states: list[RequestState]) -> np.ndarray: ...

    def release(self, state: RequestState) -> None: ...

    def flush_cache(self) -> None: ...

    def cached_prefix_tokens(self) -> int: ...

    def grammar_backend(self, fresh: bool = False) -> Any: ...

    def close(self) -> None: ...
