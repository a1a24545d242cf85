"""The OpenAPI document of the whole API, merged from every function's resolver."""

from __future__ import annotations

import json
from typing import Any

from logsvc import SERVICE_NAME, VERSION
from logsvc.routes import FUNCTIONS, ROUTES
from logsvc_local.project import load_handler

_ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_LOKI_ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/LokiErrorResponse"}
LOKI_PREFIX = "/loki/"


def build_document() -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": SERVICE_NAME,
            "version": VERSION,
            "description": "Central logging service: ingest, search, stats and retention.",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                # The Loki routes also take the key as the basic-auth password (Grafana).
                "basicAuth": {"type": "http", "scheme": "basic"},
            },
        },
        "security": [{"bearerAuth": []}],
    }
    for function in FUNCTIONS:
        schema = load_handler(function).app.get_openapi_schema(title=SERVICE_NAME, version=VERSION)
        part = schema.model_dump(by_alias=True, exclude_none=True, mode="json")
        for path, operations in part.get("paths", {}).items():
            document["paths"].setdefault(path, {}).update(operations)
        document["components"]["schemas"].update(part.get("components", {}).get("schemas", {}))
    _describe_operations(document)
    document["paths"] = dict(sorted(document["paths"].items()))
    document["components"]["schemas"] = dict(sorted(document["components"]["schemas"].items()))
    return document


def _powertools_validation(response: dict[str, Any] | None) -> bool:
    """Whether a response is the 422 Powertools documents for every route (a validation
    error, which this API answers as 400)."""
    schema = (response or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def _describe_operations(document: dict[str, Any]) -> None:
    """Summaries from the route table; our error format instead of Powertools' 422."""
    from logsvc.api.models import ErrorResponse, LokiErrorResponse

    schemas = document["components"]["schemas"]
    schemas["ErrorResponse"] = ErrorResponse.model_json_schema()
    schemas["LokiErrorResponse"] = LokiErrorResponse.model_json_schema()
    document["components"]["schemas"].pop("HTTPValidationError", None)
    document["components"]["schemas"].pop("ValidationError", None)
    routes = {(r.method.lower(), r.path): r for r in ROUTES}
    ours = {"content": {"application/json": {"schema": _ERROR_SCHEMA_REF}}}
    loki = {"content": {"application/json": {"schema": _LOKI_ERROR_SCHEMA_REF}}}
    for path, operations in document["paths"].items():
        error = loki if path.startswith(LOKI_PREFIX) else ours
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if _powertools_validation(responses.get("422")):
                del responses["422"]  # a route's own 422 (ask's "not understood") stays
            route = routes[(method, path)]
            operation["summary"] = route.summary
            if route.scope is None:
                operation["security"] = []
                continue
            if path.startswith(LOKI_PREFIX):
                operation["security"] = [{"bearerAuth": []}, {"basicAuth": []}]
                if method == "get":
                    responses.setdefault("504", {"description": "Query timed out", **error})
                    responses.setdefault(
                        "422",
                        {"description": "A metric query's archive part is too large", **error},
                    )
                    _loki_parameters(path, operation)
            if path in ("/api/v1/logs/search", "/api/v1/logs/patterns/{service}"):
                responses.setdefault("504", {"description": "Search timed out", **error})
            responses.setdefault("400", {"description": "Invalid request", **error})
            responses.setdefault("401", {"description": "Missing or wrong API key", **error})
            responses.setdefault(
                "403", {"description": "The key lacks the scope, or the service", **error}
            )
            if "{" in path:
                responses.setdefault(
                    "404", {"description": "Nothing there, or no route for the path", **error}
                )
            if method in ("post", "put"):
                responses.setdefault("415", {"description": "Body not JSON", **error})
            responses.setdefault(
                "429",
                {"description": "Rate limit or daily quota reached; see Retry-After", **error},
            )
            responses.setdefault("503", {"description": "Storage unavailable; retry", **error})


def _loki_parameters(path: str, operation: dict[str, Any]) -> None:
    """The query parameters a Loki route reads, all optional text as Loki takes them."""
    from logsvc.api.loki_routes import PARAMETERS, PREFIX

    names = PARAMETERS.get(path.removeprefix(PREFIX + "/"), ())
    declared = {p["name"] for p in operation.get("parameters", [])}
    operation.setdefault("parameters", []).extend(
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in names
        if name not in declared
    )


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=False) + "\n"
