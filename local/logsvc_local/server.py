"""The local server: real HTTP in, the same lambda_handler functions as on AWS behind it.

Each request is matched against the shared route table, turned into the API Gateway proxy
event the deployed API would send, and handed to that route's function.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from logsvc import components
from logsvc.api.cors import preflight_headers
from logsvc.errors import error_body
from logsvc.media_types import JSON
from logsvc.routes import (
    FUNCTIONS,
    ROUTES,
    STREAM_FUNCTION,
    STREAM_PATH,
    allowed_methods,
    match_route,
)
from logsvc_local.events import LocalContext, proxy_event
from logsvc_local.loki_tail import TAIL_PATH, loki_tail_endpoint
from logsvc_local.project import load_handler
from logsvc_local.rate_limit import RateLimiter
from logsvc_local.scheduler import run_schedules
from logsvc_local.stream import management_api, stream_endpoint
from logsvc_local.writer_loop import WriterLoop

log = logging.getLogger("uvicorn.error")  # configured by uvicorn: one line, no traceback
# Lambda refuses synchronous invocations whose payload exceeds 6 MB; mirror that here.
MAX_BODY_BYTES = 6 * 1024 * 1024
# A Lambda instance serves one request at a time, and the handlers rely on it: Powertools
# keeps the current event on its Router class (BaseRouter.current_event), shared by every
# function's resolver in this process, so two handlers running at once (an ingest and a
# /health) could each read the other's request. The HTTP functions here run one request at
# a time, all on one thread: one SQLite connection, whose page cache stays warm (a shared
# pool of threads opened a connection per thread, each cold).
_HANDLERS = ThreadPoolExecutor(1, thread_name_prefix="logsvc-handlers")


def create_app(
    *,
    schedules: bool = True,
    rate_limit: bool = False,
    on_stop: Callable[[], None] | None = None,
) -> Starlette:
    """The API; with ``schedules``, cleanup and analysis also run on their cron schedules;
    with ``rate_limit`` (or LOGSVC_RATE_LIMIT=on), the WAF's per-IP limits apply."""
    for function in (*FUNCTIONS, STREAM_FUNCTION):
        load_handler(function)  # fail at start-up, not on the first request

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(run_schedules()) if schedules else None
        writer = start_writer()
        yield
        if task is not None:
            task.cancel()
        if writer is not None:
            writer.stop()
        if on_stop is not None:
            on_stop()

    limiter = RateLimiter.from_env(force=rate_limit)

    async def dispatch(request: Request) -> Response:
        if limiter is not None:
            refusal = limiter.check(request.client.host if request.client else "", request.url.path)
            if refusal is not None:
                return _error(
                    429, refusal.message, headers={"Retry-After": str(refusal.retry_after)}
                )
        return await _dispatch(request)

    methods = sorted({route.method for route in ROUTES} | {"OPTIONS"})
    routes = [
        WebSocketRoute(STREAM_PATH, stream_endpoint),
        WebSocketRoute(TAIL_PATH, loki_tail_endpoint),
        Route("/@connections/{connection_id}", management_api, methods=["POST", "DELETE", "GET"]),
        Route("/{path:path}", dispatch, methods=methods),
    ]

    async def unrouted(request: Request, exc: Exception) -> Response:
        # Starlette's own 404/405 (a path with a newline, an unknown method): answer as
        # the API does, from the route table, in the JSON error format.
        return await dispatch(request)

    return Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={404: unrouted, 405: unrouted}
    )


def start_writer() -> WriterLoop | None:
    """With a local buffer (INGEST_BUFFER=file://...), its writer runs in this process."""
    from logsvc.buffer.local import LocalBuffer

    buffer = components.ingest_buffer()
    if not isinstance(buffer, LocalBuffer):
        return None
    settings = components.settings()
    loop = WriterLoop(
        buffer,
        components.log_writer(),
        settings.writer_batch_entries,
        settings.writer_flush_seconds,
    )
    loop.start()
    return loop


async def _dispatch(request: Request) -> Response:
    # The path as sent (still percent-encoded), as API Gateway passes it on.
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    if request.method == "OPTIONS" and allowed_methods(path):
        return _preflight(request)
    matched = match_route(request.method, path)
    if matched is None:
        allowed = allowed_methods(path)
        if allowed:
            return _error(
                405,
                f"{request.method} is not allowed on {path}; use {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return _error(404, f"no route for {request.method} {path}")
    route, path_parameters = matched
    try:
        body = await _read_body(request)
    except ClientDisconnect:
        log.info("client went away before sending the whole body: %s %s", request.method, path)
        return Response(status_code=400)
    if body is None:
        return _error(413, f"body: larger than {MAX_BODY_BYTES} bytes", "body")
    event = proxy_event(
        method=request.method,
        resource=route.path,
        path=path,
        headers=list(request.headers.items()),
        query=list(request.query_params.multi_items()),
        path_parameters=path_parameters,
        body=body,
        source_ip=request.client.host if request.client else "127.0.0.1",
    )
    context = contextvars.copy_context()  # as Starlette's threadpool passes it on
    result = await asyncio.get_running_loop().run_in_executor(
        _HANDLERS, context.run, _invoke, route.function, event
    )
    return _response(result)


def _preflight(request: Request) -> Response:
    """Answer a CORS preflight as API Gateway does when CORS_ORIGINS is set (no auth)."""
    origins = components.settings().cors_origins
    headers = preflight_headers(request.headers.get("origin"), origins)
    return Response(status_code=204 if headers else 403, headers=headers)


def _invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
    return load_handler(function).lambda_handler(event, LocalContext(function))


async def _read_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _response(result: dict[str, Any]) -> Response:
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    response = Response(content=content, status_code=int(result.get("statusCode", 200)))
    for name, value in headers:
        response.headers.append(name, value)
    return response


def _error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(error_body(message, field))
    return Response(body, status_code=status, media_type=JSON, headers=headers)
