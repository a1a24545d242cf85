"""Stream function: the live-tail WebSocket API's routes ($connect, subscribe, $disconnect)."""

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from logsvc import components
from logsvc.clock import now_ms
from logsvc.errors import ApiError, Forbidden, error_body
from logsvc.live_tail.subscriptions import Subscription
from logsvc.problems import first_problem
from logsvc.startup import settled

logger = Logger(service="logsService-stream")
BROWSER_PROTOCOL = "bearer"  # new WebSocket(url, ["bearer", key]) for browsers


def connect(event: dict[str, Any]) -> dict[str, Any]:
    """Authenticate (Bearer header, ?token= or the subprotocol pair) and register."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    query = event.get("queryStringParameters") or {}
    protocols = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
    authorization = headers.get("authorization")
    answer_headers = {}
    if not authorization and query.get("token"):
        authorization = f"Bearer {query['token']}"
    if not authorization and len(protocols) == 2 and protocols[0] == BROWSER_PROTOCOL:
        authorization = f"Bearer {protocols[1]}"
        answer_headers["Sec-WebSocket-Protocol"] = BROWSER_PROTOCOL
    try:
        caller = components.authenticate(authorization)
        caller.require("read")
        if caller.services is not None:
            # Subscriptions are not tied to keys, so a restricted key could widen its own.
            raise Forbidden(
                "live tail needs a read key not limited to services", field="Authorization"
            )
    except ApiError as exc:
        body = json.dumps(error_body(exc.message, exc.field))
        return {"statusCode": exc.status_code, "body": body}
    registry = components.connection_registry()
    connection_id = event["requestContext"]["connectionId"]
    loki_query = query.get("query")  # Loki's tail: subscribed at once, answered in its frames
    if loki_query:
        try:
            subscription = Subscription(loki_query=loki_query)
        except ValidationError as exc:
            _, message = first_problem(exc.errors())
            return {"statusCode": 400, "body": json.dumps({"message": message})}
        subscription = subscription.model_copy(update={"services": _services_of(loki_query)})
        registry.connect(connection_id, now_ms())
        registry.subscribe(connection_id, subscription)
        return {"statusCode": 200, "headers": answer_headers}
    registry.connect(connection_id, now_ms())
    return {"statusCode": 200, "headers": answer_headers}


def _services_of(loki_query: str) -> list[str] | None:
    """The service a LogQL selector names with =, to narrow the subscription early."""
    from logsvc.loki.expressions import LogQuery
    from logsvc.loki.logql import parse

    parsed = parse(loki_query)
    if not isinstance(parsed, LogQuery):
        return None
    named = [m.value for m in parsed.matchers if m.label == "service_name" and m.op == "="]
    return named[:1] or None


def subscribe(event: dict[str, Any]) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    try:
        subscription = Subscription.model_validate_json(event.get("body") or "{}")
    except ValidationError as exc:
        field, message = first_problem(exc.errors())
        return reply(event, {"type": "error", "error": message, "field": field}, 400)
    if not components.connection_registry().subscribe(connection_id, subscription):
        return reply(event, {"type": "error", "error": "not connected"}, 410)
    return reply(event, {"type": "subscribed", **subscription.view()})


def reply(event: dict[str, Any], message: dict[str, Any], status: int = 200) -> dict[str, Any]:
    """Send a message on the connection (route responses are not enabled on this API)."""
    api = components.management_api()
    if api is not None:
        api.send(event["requestContext"]["connectionId"], json.dumps(message).encode())
    return {"statusCode": status, "body": json.dumps(message)}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = event["requestContext"]["routeKey"]
    if route == "$connect":
        return connect(event)
    if route == "$disconnect":
        components.connection_registry().disconnect(event["requestContext"]["connectionId"])
        return {"statusCode": 200}
    if route == "subscribe":
        return subscribe(event)
    return reply(event, {"type": "error", "error": 'send {"action": "subscribe", ...}'}, 400)


settled()  # the last line: after everything the module loaded (logsvc.startup)
