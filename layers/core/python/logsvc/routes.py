"""The route table: every HTTP route and the function that serves it.

The single source of truth: the CDK stacks build API Gateway from it and the local server
routes requests with it. Paths use API Gateway's {param} syntax.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    authenticated: bool = True


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", authenticated=False),
    Route("GET", "/openapi.json", "health", authenticated=False),
    Route("POST", "/api/v1/logs/ingest", "ingest"),
    Route("POST", "/api/v1/logs/ingest/batch", "ingest"),
    Route("GET", "/api/v1/logs/search", "search"),
    Route("GET", "/api/v1/logs/logs/{id}", "search"),
    Route("GET", "/api/v1/logs/logs/{id}/full", "search"),
    Route("GET", "/api/v1/logs/services", "search"),
    Route("GET", "/api/v1/logs/stats/{service}", "search"),
    Route("GET", "/api/v1/logs/recent/{service}", "search"),
    Route("GET", "/api/v1/logs/config/{service}", "config"),
    Route("PUT", "/api/v1/logs/config/{service}", "config"),
    Route("GET", "/api/v1/logs/configs", "config"),
)

FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(route.function for route in ROUTES))
