"""OpenAI-compatible routes as SGLang 0.4.10 serves them (``srt/entrypoints/openai/``).

Requests become native :class:`GenerateReqInput` bodies and go through the same
:class:`GenerationManager` as ``/generate``; responses keep SGLang's details: bare 32-hex ids,
``matched_stop``, ``prompt_tokens_details`` only with ``--enable-cache-report``, and top-level
``{"object": "error", ...}`` error bodies. Chat and completions live in ``openai_chat.py`` and
``openai_completions.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from .json_response import SafeJSONResponse
from .openai_chat import chat_response, chat_stream, chat_to_generate
from .openai_completions import completion_response, completion_stream, completion_to_generate
from .openai_protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    EmbeddingObject,
    EmbeddingRequest,
    EmbeddingResponse,
    UsageInfo,
)
from .openai_serving import engine_of, error_response, run_generate, validate_json_request

logger = logging.getLogger("sgl_notebook.engine")
router = APIRouter()


@router.post("/v1/chat/completions", dependencies=[Depends(validate_json_request)])
async def chat_completions(req: ChatCompletionRequest, raw: Request) -> Any:
    st = engine_of(raw)
    try:
        if not req.messages:
            return error_response("Messages cannot be empty.")
        if st.manager is None:
            return error_response("This model is an embedding model: use /v1/embeddings.")
        adapted = chat_to_generate(st, req)
        if req.stream:
            return StreamingResponse(chat_stream(st, adapted, req, raw),
                                     media_type="text/event-stream")
        try:
            ret = await run_generate(st, adapted, raw)
        except ValueError as e:
            return error_response(str(e))
        return SafeJSONResponse(chat_response(st, req, ret).model_dump())
    except HTTPException as e:
        return error_response(str(e.detail), str(e.status_code), e.status_code)
    except Exception as e:  # noqa: BLE001 -- SGLang answers every other failure with a 500 body
        logger.exception(f"Error in request: {e}")
        return error_response(f"Internal server error: {e}", "InternalServerError", 500)


@router.post("/v1/completions", dependencies=[Depends(validate_json_request)])
async def completions(req: CompletionRequest, raw: Request) -> Any:
    st = engine_of(raw)
    try:
        if st.manager is None:
            return error_response("This model is an embedding model: use /v1/embeddings.")
        adapted = completion_to_generate(req)
        if req.stream:
            return StreamingResponse(completion_stream(st, adapted, req, raw),
                                     media_type="text/event-stream")
        try:
            ret = await run_generate(st, adapted, raw)
        except ValueError as e:
            return error_response(str(e))
        body = completion_response(st, req, ret)
        return SafeJSONResponse(body.model_dump())
    except HTTPException as e:
        return error_response(str(e.detail), str(e.status_code), e.status_code)
    except Exception as e:  # noqa: BLE001 -- SGLang answers every other failure with a 500 body
        logger.exception(f"Error in request: {e}")
        return error_response(f"Internal server error: {e}", "InternalServerError", 500)


@router.post("/v1/embeddings", dependencies=[Depends(validate_json_request)])
async def embeddings(req: EmbeddingRequest, raw: Request) -> Any:
    st = engine_of(raw)
    if st.embedder is None:
        return error_response(
            "This model does not appear to be an embedding model by default. "
            "Please add `--is-embedding` when launching the server or try another model."
        )
    inputs = req.input
    if isinstance(inputs, str):
        batch = [st.embedder.tokenize(inputs)]
    elif inputs and isinstance(inputs[0], int):
        batch = [list(inputs)]
    elif inputs and isinstance(inputs[0], list):
        batch = [list(x) for x in inputs]
    elif inputs:
        batch = [st.embedder.tokenize(str(x)) for x in inputs]
    else:
        return error_response("Input cannot be empty")
    for ids in batch:
        if len(ids) >= st.context_len:
            return error_response(
                f"The input ({len(ids)} tokens) is longer than the "
                f"model's context length ({st.context_len} tokens)."
            )
    results = await asyncio.to_thread(st.embedder.embed, batch)
    prompt_tokens = sum(r.prompt_tokens for r in results)
    body = EmbeddingResponse(
        data=[EmbeddingObject(embedding=r.embedding, index=i) for i, r in enumerate(results)],
        model=req.model,
        usage=UsageInfo(prompt_tokens=prompt_tokens, total_tokens=prompt_tokens),
    )
    return SafeJSONResponse(body.model_dump())
