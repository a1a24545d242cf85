"""Build a function's Powertools resolver: auth first, validation on, errors mapped once."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.shared.json_encoder import Encoder

from logsvc.api.cors import response_headers
from logsvc.api.models import ErrorResponse
from logsvc.entries import MAX_JSON_CONTAINERS
from logsvc.errors import ApiError, StoreUnavailable, error_body
from logsvc.keys import BOOTSTRAP, Principal
from logsvc.media_types import FORM, JSON, PROTOBUF, TEXT
from logsvc.problems import first_problem
from logsvc.routes import route_of

READ_AS_JSON = (FORM, TEXT)


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers or {},
    )


def error_response(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return json_response(status, error_body(message, field), headers)


# The Loki-compatible routes answer errors as Loki does: {"message": ...}.
LOKI_PREFIX = "/loki/"
# The routes whose unknown query parameters are refused: the native API's.
CHECKED_PARAMETERS = ("/api/", "/v1/", "/health")


def _error_for(
    app: APIGatewayRestResolver,
    status: int,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if (app.current_event.path or "").startswith(LOKI_PREFIX):
        return json_response(status, {"message": message}, headers)
    return error_response(status, message, field, headers)


def with_errors(errors: dict[int, str], success: int = 200) -> dict[int, dict[str, Any]]:
    """OpenAPI responses of a route with error statuses of its own (in the error format).

    Powertools documents only the listed responses once any are given, so the success
    response is listed too; its schema still comes from the return annotation.
    """
    return {
        success: {"description": "Successful Response"},
        **{
            status: {"description": text, "content": {JSON: {"model": ErrorResponse}}}
            for status, text in errors.items()
        },
    }


def principal(app: APIGatewayRestResolver) -> Principal:
    """Who made the current request (the resolver authenticated them before routing)."""
    return app.context.get("principal", BOOTSTRAP)


Authenticator = Callable[[str | None], Principal]


class LogServiceResolver(APIGatewayRestResolver):
    """A REST-API resolver that checks the API key before anything else runs.

    Powertools runs request validation before user middlewares, so the key is checked here,
    ahead of routing: an unauthenticated caller never gets a body parsed or validated. The
    scope a route needs comes from the route table, by the route API Gateway matched.
    """

    def __init__(
        self,
        *,
        authenticator: Authenticator | None,
        cors_origins: Callable[[], tuple[str, ...]],
    ):
        # orjson reads bodies: about three times faster than json, and strict (no NaN, no
        # lone surrogates), so every value a client sends can be stored as JSON again.
        super().__init__(
            enable_validation=True, json_body_deserializer=orjson.loads, serializer=_serialize
        )
        self.authenticator = authenticator
        self.cors_origins = cors_origins

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        result = self._resolve_request(event, context, headers)
        cors = response_headers(headers.get("origin"), self.cors_origins())
        if cors:
            result["headers"] = {**(result.get("headers") or {}), **cors}
        return result

    def _resolve_request(
        self, event: dict[str, Any], context: Any, headers: dict[str, str]
    ) -> dict[str, Any]:
        route = route_of(event.get("httpMethod") or "", event.get("resource") or "")
        if self.authenticator is not None:
            try:
                caller = self.authenticator(headers.get("authorization"))
                caller.require(route.scope if route else "admin")
            except ApiError as exc:
                return _early_answer(
                    exc.status_code, exc.message, exc.field, exc.headers, event.get("path")
                )
            self.append_context(principal=caller)
        if route is not None and route.undeclared_media_type and not headers.get("content-type"):
            media_type = route.undeclared_media_type
        else:
            media_type = headers.get("content-type", FORM).split(";")[0].strip().lower()
        if media_type != PROTOBUF and _too_many_containers(event):
            return _early_answer(
                413, f"body: more than {MAX_JSON_CONTAINERS} JSON objects and arrays", "body"
            )
        declared = headers.get("content-type", "")
        if event.get("body") and (
            media_type in READ_AS_JSON or (media_type == JSON and declared != JSON)
        ):
            # Bodies are JSON (OTLP may be protobuf): read a form-encoded or undeclared body
            # as JSON, as the original service did, since `curl -d` declares form encoding;
            # and text/plain, which fetch() sends for a string body without headers. Media
            # types are case-insensitive: APPLICATION/JSON is JSON too.
            others = {
                k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"
            }
            event = {**event, "headers": {**others, "Content-Type": JSON}}
        elif event.get("body") and media_type not in (JSON, PROTOBUF):
            return _early_answer(
                415, f"Content-Type: {media_type!r} is not accepted; send {JSON}", "Content-Type"
            )
        return super().resolve(event, context)


def _too_many_containers(event: dict[str, Any]) -> bool:
    """Whether a JSON body holds more objects and arrays than any request needs: counted in
    the raw text before it is parsed into as many Python objects (a few MB of "{}" would
    become millions of dicts)."""
    body = event.get("body")
    # A body shorter than the limit cannot hold that many: nothing to decode or count (the
    # common case; base64 makes a body 4/3 as long).
    if not body or len(body) <= MAX_JSON_CONTAINERS:
        return False
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return raw.count(b"{") + raw.count(b"[") > MAX_JSON_CONTAINERS


def _serialize(body: Any) -> str:
    """Answers as JSON through orjson (a 1000-id answer: 0.1 ms instead of 1 ms), and
    through json for what orjson does not write (integers beyond 64 bits)."""
    try:
        return orjson.dumps(body).decode()
    except TypeError:
        return json.dumps(body, separators=(",", ":"), cls=Encoder)


def _early_answer(
    status: int,
    message: str,
    field: str | None,
    headers: dict[str, str] | None = None,
    path: str | None = None,
) -> dict[str, Any]:
    """An error answer given before Powertools routes the request."""
    loki = (path or "").startswith(LOKI_PREFIX)
    return {
        "statusCode": status,
        "isBase64Encoded": False,
        "headers": {"Content-Type": JSON, **(headers or {})},
        "body": json.dumps({"message": message} if loki else error_body(message, field)),
    }


# Names other tools give what this API calls otherwise (the entry's own field names,
# Loki's, CloudWatch's): a 400 for one of them says which parameter was meant.
PARAMETER_ALIASES = {
    "service_name": "service",
    "services": "service",
    "query": "q",
    "search": "q",
    "text": "q",
    "message": "q",
    "severity": "level",
    "from": "start_time",
    "start": "start_time",
    "since": "start_time",
    "to": "end_time",
    "end": "end_time",
    "until": "end_time",
    "size": "limit",
    "count": "limit",
    "page": "offset",
}


def _refuse_unknown_parameters(
    app: APIGatewayRestResolver, next_middleware: Callable[..., Response]
) -> Response:
    """A query parameter the route does not take is a 400 naming it: ignored, a misspelt
    ``servce=`` or a metadata field given as ``error_code=`` would widen the answer."""
    route = app.context.get("_route")
    given = app.current_event.query_string_parameters or {}
    # The native API only: the Loki API ignores what it does not know, as Loki does
    # (Grafana sends extras), and the console page keeps its own state in its URL.
    if route is not None and given and route.path.startswith(CHECKED_PARAMETERS):
        known = {field.alias for field in route.dependant.query_params}
        unknown = sorted(set(given) - known)
        if unknown:
            name = unknown[0]
            hint = f"; it takes {', '.join(sorted(known))}" if known else "; it takes none"
            meant = PARAMETER_ALIASES.get(name.lower())
            if meant in known:
                hint = f"; did you mean {meant}?{hint.removeprefix(';')}"
            elif "filter" in known:
                hint += f" (a metadata field: filter=metadata.{name}=<value>)"
            return error_response(400, f"{name}: unknown query parameter{hint}", name)
    return next_middleware(app)


def new_resolver(
    logger: Logger,
    *,
    authenticator: Authenticator | None,
    cors_origins: Callable[[], tuple[str, ...]],
) -> LogServiceResolver:
    """A resolver with Bearer auth (None: no key needed), request validation and the
    service's error format."""
    app = LogServiceResolver(authenticator=authenticator, cors_origins=cors_origins)

    app.use(middlewares=[_refuse_unknown_parameters])

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return _error_for(app, exc.status_code, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        field, message = first_problem(exc.errors())
        return _error_for(app, 400, message, field)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_content_type(exc: RequestUnsupportedContentType) -> Response:
        return error_response(415, f"Content-Type: send {JSON}", "Content-Type")

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(exc: UnicodeDecodeError) -> Response:
        return error_response(400, "body: is not valid UTF-8", "body")

    @app.exception_handler(StoreUnavailable)
    def _store_unavailable(exc: StoreUnavailable) -> Response:
        logger.warning("storage unavailable", extra={"reason": str(exc)})
        return _error_for(
            app,
            503,
            "storage is temporarily unavailable; retry later",
            headers={"Retry-After": str(exc.retry_after or 5)},
        )

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        event = app.current_event
        return error_response(404, f"no route for {event.http_method} {event.path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal error")

    return app
