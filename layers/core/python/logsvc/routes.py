"""The route table: every HTTP route and the function that serves it.

The single source of truth: the CDK stacks build API Gateway from it and the local server
routes requests with it. Paths use API Gateway's {param} syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote

from logsvc.media_types import PROTOBUF


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    summary: str
    scope: str | None  # what a scoped API key needs: ingest, read or admin (None: no key)
    # What a body that names no media type is; None: JSON (as `curl -d`'s form encoding is).
    undeclared_media_type: str | None = None


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Health check (no key needed)", None),
    Route("GET", "/openapi.json", "health", "This OpenAPI document (no key needed)", None),
    Route("GET", "/", "health", "The web console (no key needed to load it)", None),
    Route("GET", "/console/{name}", "health", "The web console's files", None),
    Route("POST", "/api/v1/logs/ingest", "ingest", "Ingest one log entry", "ingest"),
    Route("POST", "/api/v1/logs/ingest/batch", "ingest", "Ingest up to 1000 log entries", "ingest"),
    Route(
        "POST", "/api/v1/logs/tail", "ingest", "Ingest Cloudflare Tail Worker TraceItems", "ingest"
    ),
    Route("POST", "/v1/logs", "ingest", "Ingest OpenTelemetry logs (OTLP/HTTP)", "ingest"),
    Route("GET", "/api/v1/logs/search", "search", "Search logs, newest first", "read"),
    Route("GET", "/api/v1/logs/logs/{id}", "search", "Get an indexed log entry by id", "read"),
    Route(
        "GET",
        "/api/v1/logs/logs/{id}/full",
        "search",
        "Get the full log entry from the archive",
        "read",
    ),
    Route("GET", "/api/v1/logs/services", "search", "List services with log counts", "read"),
    Route("GET", "/api/v1/logs/stats/{service}", "search", "Get a service's statistics", "read"),
    Route(
        "GET", "/api/v1/logs/recent/{service}", "search", "Get a service's latest entries", "read"
    ),
    Route(
        "GET",
        "/api/v1/logs/analysis/{service}",
        "search",
        "Get a service's latest error analysis and its history",
        "read",
    ),
    Route(
        "GET",
        "/api/v1/logs/patterns/{service}",
        "search",
        "Mine a service's error patterns now, over a time range",
        "read",
    ),
    Route(
        "POST",
        "/api/v1/logs/ask",
        "ask",
        "Ask in plain words: the question's LogQL, explained and run",
        "read",
    ),
    Route("GET", "/api/v1/logs/config/{service}", "config", "Get a service's config", "read"),
    Route("PUT", "/api/v1/logs/config/{service}", "config", "Change a service's config", "admin"),
    Route("GET", "/api/v1/logs/configs", "config", "List all stored configs", "read"),
    Route("POST", "/api/v1/admin/keys", "config", "Create a scoped API key", "admin"),
    Route("GET", "/api/v1/admin/keys", "config", "List API keys (never their secrets)", "admin"),
    Route("DELETE", "/api/v1/admin/keys/{key_id}", "config", "Revoke an API key", "admin"),
    Route(
        "POST",
        "/api/v1/admin/replay",
        "search",
        "Re-send a service's archived entries to a URL or back into the index",
        "admin",
    ),
    # The Loki-compatible API (docs/LOKI.md): Grafana's Loki data source, Promtail, Alloy.
    Route(
        "POST",
        "/loki/api/v1/push",
        "ingest",
        "Loki push (JSON or snappy protobuf)",
        "ingest",
        undeclared_media_type=PROTOBUF,  # as Loki reads it: the agents' format
    ),
    *(
        Route("GET", f"/loki/api/v1/{path}", "search", f"Loki: {summary}", "read")
        for path, summary in (
            ("query", "instant query"),
            ("query_range", "range query"),
            ("labels", "label names"),
            ("label/{name}/values", "a label's values"),
            ("series", "streams matching selectors"),
            ("index/stats", "index statistics"),
            ("index/volume", "volume by stream"),
            ("index/volume_range", "volume over time"),
            ("patterns", "log patterns"),
            ("detected_fields", "fields found in the logs"),
            ("detected_field/{name}/values", "a detected field's values"),
            ("detected_labels", "labels found in the logs"),
            ("status/buildinfo", "build information"),
        )
    ),
)

# Live tail: a WebSocket API (API Gateway's, or the local server's at STREAM_PATH) whose
# routes all go to the stream function.
STREAM_FUNCTION = "stream"
# Served, but not part of the API's OpenAPI document.
UNDOCUMENTED_PATHS = frozenset({"/openapi.json", "/", "/console/{name}"})
STREAM_PATH = "/api/v1/logs/stream"
STREAM_ROUTES: tuple[str, ...] = ("$connect", "$disconnect", "subscribe")

FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(route.function for route in ROUTES))


_BY_RESOURCE = {(route.method, route.path): route for route in ROUTES}


def route_of(method: str, resource: str) -> Route | None:
    """The route API Gateway matched (its ``resource`` is the route's path template)."""
    return _BY_RESOURCE.get((method, resource))


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")


@cache
def _compiled() -> tuple[tuple[Route, re.Pattern[str]], ...]:
    """Compiled on first use: only the local server matches paths (functions look routes up
    by API Gateway's resource)."""
    return tuple((route, _pattern(route.path)) for route in ROUTES)


def match_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving this request and its path parameters, as API Gateway picks them
    (the local server's job; behind it, functions read the match from the event)."""
    for route, pattern in _compiled():
        found = pattern.match(path)
        if found and route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def allowed_methods(path: str) -> list[str]:
    """The methods some route accepts on this path (to tell 405 from 404)."""
    return [route.method for route, pattern in _compiled() if pattern.match(path)]
