"""SGLang 0.4.10's native routes: ``/generate``, health, model/server info, cache, abort, models.

Shapes, status codes and error bodies follow ``srt/entrypoints/http_server.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.background import BackgroundTask

from sgl_notebook.protocol.sse import DONE_EVENT

from ..core.types import GenerationRequest, RequestOutput, SamplingParams
from ..runners.transformers.embedding import embedding_meta
from .engine_state import EngineState
from .generate_input import GenerateReqInput, new_rid
from .json_response import SafeJSONResponse, sse_event
from .openai_protocol import ModelCard, ModelList

logger = logging.getLogger("sgl_notebook.engine")
router = APIRouter()

HEALTH_CHECK_TIMEOUT_S = 20.0
FLUSH_CACHE_TEXT = (
    "Cache flushed.\nPlease check backend logs for more details. "
    "(When there are running or waiting requests, the operation will not be performed.)\n"
)
# SGLang aborts a streamed request ~2 s after its response ended, in case the client left.
ABORT_AFTER_STREAM_S = 2.0


def engine(request: Request) -> EngineState:
    state: EngineState = request.app.state.engine
    return state


def error_response(exc: Exception, status: int = 400) -> SafeJSONResponse:
    """Native-route error body: ``{"error": {"message": ...}}``."""
    return SafeJSONResponse({"error": {"message": str(exc)}}, status_code=status)


# -- health -----------------------------------------------------------------------------------


@router.get("/health")
@router.get("/health_generate")
async def health_generate(request: Request) -> Response:
    """503 until the warm-up succeeded; then a real 1-token generation (one Prefill line)."""
    st = engine(request)
    if not st.server_up:
        return Response(status_code=503)
    if not st.is_generation:
        return Response(status_code=200)
    rid = f"HEALTH_CHECK_{time.time()}"
    loop = asyncio.get_running_loop()
    answered = asyncio.Event()

    def on_output(_out: RequestOutput) -> None:
        loop.call_soon_threadsafe(answered.set)

    probe = GenerationRequest(
        rid=rid, input_ids=[0], sampling=SamplingParams(max_new_tokens=1, temperature=0.0)
    )
    st.scheduler.submit(probe, on_output)
    try:
        await asyncio.wait_for(answered.wait(), timeout=HEALTH_CHECK_TIMEOUT_S)
        return Response(status_code=200)
    except asyncio.TimeoutError:
        logger.error(
            "Health check failed. Server couldn't get a response from detokenizer for last "
            f"{int(HEALTH_CHECK_TIMEOUT_S)} seconds."
        )
        return Response(status_code=503)
    finally:
        st.scheduler.abort(rid)


@router.get("/ping")
async def ping() -> Response:
    return Response(status_code=200)


# -- info -------------------------------------------------------------------------------------


@router.get("/get_model_info")
@router.get("/model_info")
async def get_model_info(request: Request) -> dict[str, Any]:
    return engine(request).model_info()


@router.get("/get_server_info")
@router.get("/server_info")
async def get_server_info(request: Request) -> dict[str, Any]:
    return engine(request).server_info()


def _snapshot(st: EngineState) -> Any:
    """The scheduler's live counts (None for an embedding model: nothing is scheduled)."""
    return st.scheduler.snapshot() if st.scheduler is not None else None


@router.get("/get_load")
async def get_load(request: Request) -> dict[str, int]:
    """SGLang 0.4.10: ``{"load": KV tokens held by live requests + waiting requests}``."""
    snap = _snapshot(engine(request))
    return {"load": 0 if snap is None else int(snap.used_tokens) + int(snap.queued)}


@router.get("/v1/loads")
async def get_loads(request: Request) -> dict[str, Any]:
    """SGLang 0.5.23's load report: one DP rank, core fields, and the aggregate."""
    st = engine(request)
    snap = _snapshot(st)
    running = 0 if snap is None else int(snap.running)
    waiting = 0 if snap is None else int(snap.queued)
    load = {
        "dp_rank": 0,
        "num_running_reqs": running,
        "num_waiting_reqs": waiting,
        "num_used_tokens": 0 if snap is None else int(snap.used_tokens),
        "max_total_num_tokens": st.max_total_num_tokens,
        "token_usage": 0.0 if snap is None else round(float(snap.token_usage), 4),
        "gen_throughput": 0.0 if snap is None or not running else float(snap.last_gen_throughput),
        "cache_hit_rate": 0.0 if snap is None else float(snap.last_cache_hit_rate),
        "utilization": round(running / st.max_running_requests, 4)
        if st.max_running_requests
        else 0.0,
        "max_running_requests": st.max_running_requests,
        "num_total_reqs": running + waiting,
    }
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "version": "0.5.23",
        "dp_rank_count": 1,
        "loads": [load],
        "aggregate": {
            "total_running_reqs": running,
            "total_waiting_reqs": waiting,
            "total_reqs": running + waiting,
            "avg_token_usage": round(load["token_usage"], 4),
            "avg_throughput": round(load["gen_throughput"], 2),
            "avg_utilization": load["utilization"],
        },
    }


@router.get("/v1/models")
async def available_models(request: Request) -> SafeJSONResponse:
    st = engine(request)
    name = st.served_model_name
    cards = [ModelCard(id=name, root=name, max_model_len=st.context_len)]
    return SafeJSONResponse(ModelList(data=cards).model_dump())


@router.get("/v1/models/{model:path}")
async def retrieve_model(model: str, request: Request) -> SafeJSONResponse:
    st = engine(request)
    if model != st.served_model_name:
        return SafeJSONResponse(
            status_code=404,
            content={
                "error": {
                    "message": f"The model '{model}' does not exist",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_found",
                }
            },
        )
    card = ModelCard(id=model, root=model, max_model_len=st.context_len)
    return SafeJSONResponse(card.model_dump())


# -- generate ---------------------------------------------------------------------------------


@router.api_route("/generate", methods=["POST", "PUT"])
async def generate_request(obj: GenerateReqInput, request: Request) -> Any:
    st = engine(request)
    if st.manager is None:
        return error_response(
            ValueError("This model is an embedding model: use /encode or /v1/embeddings.")
        )
    manager = st.manager
    if obj.stream:

        async def stream_results() -> AsyncIterator[bytes]:
            try:
                async for out in manager.generate(obj, request):
                    yield sse_event(out)
            except ValueError as e:
                logger.error(f"[http_server] Error: {e}")
                yield sse_event({"error": {"message": str(e)}})
            yield DONE_EVENT

        async def abort_later() -> None:
            await asyncio.sleep(ABORT_AFTER_STREAM_S)
            rids = obj.rid if isinstance(obj.rid, list) else [obj.rid]
            for rid in rids:
                if rid:
                    manager.abort_request(rid)

        return StreamingResponse(
            stream_results(), media_type="text/event-stream", background=BackgroundTask(abort_later)
        )
    try:
        return await manager.generate(obj, request).__anext__()
    except ValueError as e:
        logger.error(f"[http_server] Error: {e}")
        return error_response(e)


class EmbeddingReqInput(BaseModel):
    text: list[str] | str | None = None
    input_ids: list[list[int]] | list[int] | None = None
    rid: list[str] | str | None = None
    sampling_params: dict[str, Any] | list[dict[str, Any]] | None = None


@router.api_route("/encode", methods=["POST", "PUT"])
async def encode_request(obj: EmbeddingReqInput, request: Request) -> Any:
    st = engine(request)
    if st.embedder is None:
        return error_response(
            ValueError(
                "This model does not appear to be an embedding model by default. "
                "Please add `--is-embedding` when launching the server or try another model."
            )
        )
    created = time.time()
    batch: list[Any]
    try:
        if obj.text is not None:
            single = isinstance(obj.text, str)
            texts = [obj.text] if isinstance(obj.text, str) else obj.text
            batch = [st.embedder.tokenize(t) for t in texts]
        elif obj.input_ids:
            single = isinstance(obj.input_ids[0], int)
            batch = [obj.input_ids] if single else list(obj.input_ids)
        else:
            raise ValueError("Either text, input_ids or input_embeds should be provided.")
        for ids in batch:
            if len(ids) >= st.context_len:
                raise ValueError(
                    f"The input ({len(ids)} tokens) is longer than the "
                    f"model's context length ({st.context_len} tokens)."
                )
        results = await asyncio.to_thread(st.embedder.embed, batch)
    except ValueError as e:
        return error_response(e)
    rids = obj.rid if isinstance(obj.rid, list) else [obj.rid or new_rid()] * len(results)
    outs = [
        {"embedding": r.embedding, "meta_info": embedding_meta(rid, r.prompt_tokens, created)}
        for r, rid in zip(results, rids, strict=False)
    ]
    return outs[0] if single else outs


# -- cache and abort --------------------------------------------------------------------------


@router.api_route("/flush_cache", methods=["GET", "POST"])
async def flush_cache(request: Request) -> Response:
    """Flush the prefix cache; 400 (same text) when requests are running or waiting."""
    st = engine(request)
    ok = True
    if st.scheduler is not None:
        ok = bool(await asyncio.to_thread(st.scheduler.flush_cache))
    return Response(content=FLUSH_CACHE_TEXT, status_code=200 if ok else 400)


class AbortReq(BaseModel):
    rid: str = ""
    abort_all: bool = False


@router.post("/abort_request")
async def abort_request(obj: AbortReq, request: Request) -> Response:
    st = engine(request)
    try:
        if st.manager is not None:
            st.manager.abort_request(rid=obj.rid, abort_all=obj.abort_all)
        return Response(status_code=200)
    except Exception as e:  # noqa: BLE001 -- SGLang answers any failure here with a 400 body
        return error_response(e)
