"""The toolkit's HTTP client for one SGLang-protocol server, and the one seam every answer
streams through.

    sgl_client     SglClient: info, flush, abort, generate/chat/completions, stream/astream
    event_stream   one answer read off the wire (SSE as it arrives, or whole), sync and async
    decoders       chat, completion and native /generate payloads -> StreamEvent
    results        whole answers (GenerateResult, ChatResult) and request-body helpers
    errors         ServerHTTPError, ServerConnectionError, ServerStreamError
"""

from sgl_notebook.client.decoders import StreamEvent, usage_dict
from sgl_notebook.client.errors import (
    ServerConnectionError,
    ServerHTTPError,
    ServerStreamError,
)
from sgl_notebook.client.event_stream import EventStream
from sgl_notebook.client.results import ChatResult, GenerateResult, as_messages
from sgl_notebook.client.sgl_client import SglClient
from sgl_notebook.protocol.logprobs import TokenLogprob

__all__ = [
    "ChatResult",
    "EventStream",
    "GenerateResult",
    "ServerConnectionError",
    "ServerHTTPError",
    "ServerStreamError",
    "SglClient",
    "StreamEvent",
    "TokenLogprob",
    "as_messages",
    "usage_dict",
]
