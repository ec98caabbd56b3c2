"""JSON as SGLang's ``orjson`` writes it: compact, UTF-8, and non-finite floats as ``null``.

Logprobs can be ``-inf`` (a token masked by a grammar); the standard library would either fail
(``allow_nan=False``) or write ``-Infinity``, which is not JSON.

>>> finite({"a": [float("-inf"), 1.5]})
{'a': [None, 1.5]}
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse

from sgl_notebook.protocol.sse import encode_event


def finite(value: Any) -> Any:
    """A copy of ``value`` with NaN and infinities replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(finite(value), separators=(",", ":"), ensure_ascii=False)


def sse_event(payload: Any) -> bytes:
    """One ``data: {...}\\n\\n`` event with finite numbers."""
    return encode_event(finite(payload))


class SafeJSONResponse(JSONResponse):
    """The app's default response class."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
