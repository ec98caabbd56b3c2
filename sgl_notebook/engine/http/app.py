"""The FastAPI application: routes, SGLang's error handlers, API-key check and ``/metrics``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.routing import Mount

from . import native_routes, openai_routes
from .engine_state import EngineState
from .json_response import SafeJSONResponse
from .openai_protocol import ErrorResponse


def _http_exception(_request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, HTTPException)
    body = ErrorResponse(message=str(exc.detail), type=str(exc.status_code), code=exc.status_code)
    return SafeJSONResponse(body.model_dump(), status_code=exc.status_code)


def _validation_error(_request: Request, exc: Exception) -> SafeJSONResponse:
    """SGLang turns FastAPI's 422 into a 400 with the OpenAI-style error body."""
    assert isinstance(exc, RequestValidationError)
    exc_str = str(exc)
    errors_str = str(exc.errors())
    message = f"{exc_str} {errors_str}" if errors_str and errors_str != exc_str else exc_str
    body = ErrorResponse(message=message, type="Bad Request", code=400)
    return SafeJSONResponse(body.model_dump(), status_code=400)


def add_api_key_check(app: FastAPI, api_key: str) -> None:
    """Everything but OPTIONS, ``/health*`` and ``/metrics*`` needs ``Authorization: Bearer K``."""

    @app.middleware("http")
    async def authentication(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if request.method == "OPTIONS" or path.startswith(("/health", "/metrics")):
            return await call_next(request)
        if request.headers.get("Authorization") != "Bearer " + api_key:
            return SafeJSONResponse(content={"error": "Unauthorized"}, status_code=401)
        return await call_next(request)


def add_metrics_route(app: FastAPI, state: EngineState) -> None:
    """Mount prometheus_client's app at ``/metrics`` (as SGLang: no trailing-slash redirect)."""
    from prometheus_client import make_asgi_app

    assert state.metrics is not None
    route = Mount("/metrics", make_asgi_app(registry=state.metrics.registry))
    route.path_regex = re.compile("^/metrics(?P<path>.*)$")
    app.routes.append(route)


def create_app(
    state: EngineState, on_startup: Callable[[], Any] | None = None
) -> FastAPI:
    """The engine's app; ``on_startup`` runs once uvicorn's lifespan starts (the warm-up)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        yield

    app = FastAPI(lifespan=lifespan, default_response_class=SafeJSONResponse)
    app.state.engine = state
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_credentials=True,
        allow_methods=["*"], allow_headers=["*"],
    )
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    if state.args.api_key:
        add_api_key_check(app, state.args.api_key)
    if state.args.enable_metrics and state.metrics is not None:
        add_metrics_route(app, state)
    app.include_router(native_routes.router)
    app.include_router(openai_routes.router)
    return app
