"""Health function: liveness with a database check, the OpenAPI document, and the web
console's files (no key needed for any of them)."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import SERVICE_NAME, VERSION, components
from logsvc.api import console
from logsvc.api.models import HealthResponse, IndexCapacity
from logsvc.api.resolver import new_resolver
from logsvc.clock import now_ms
from logsvc.errors import NotFound, StoreUnavailable
from logsvc.media_types import JSON
from logsvc.startup import settled

logger = Logger(service="logsService-health")
app = new_resolver(logger, authenticator=None, cors_origins=components.cors_origins)


@app.get(
    "/health",
    responses={
        200: {"description": "Healthy"},
        503: {"description": "The database or the archive is unreachable"},
    },
)
def health() -> Response[HealthResponse]:
    db = reachable("database", components.database_check)
    archive = reachable("archive", components.archive_check)
    index = [IndexCapacity(**c) for c in components.log_index().capacity()] if db else []
    over = any(c.fill is not None and c.fill > 1.0 for c in index)
    body = HealthResponse(
        status="unhealthy" if not (db and archive) else "degraded" if over else "healthy",
        service=SERVICE_NAME,
        db="connected" if db else "disconnected",
        archive="connected" if archive else "disconnected",
        index=index,
        timestamp=now_ms(),
        version=VERSION,
    )
    return Response(status_code=200 if db and archive else 503, content_type=JSON, body=body)


def reachable(name: str, check: Callable[[], None]) -> bool:
    try:
        check()
        return True
    except StoreUnavailable as exc:
        logger.warning(f"{name} check failed", extra={"reason": str(exc)})
        return False


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> dict[str, Any]:
    path = Path(components.settings().openapi_document)
    if not path.is_file():
        raise NotFound("the OpenAPI document is not bundled with this deployment")
    return json.loads(path.read_text(encoding="utf-8"))


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


@app.get("/", include_in_schema=False)
def console_page():
    return console.page(components.settings().live_tail_url)


@app.get("/console/<name>", include_in_schema=False)
def console_asset(name: str):
    found = console.asset(name, components.settings().live_tail_url)
    if found is None:
        raise NotFound(f"name: the console has no file {name!r}", field="name")
    return found


settled()  # the last line: after everything the module loaded (logsvc.startup)
