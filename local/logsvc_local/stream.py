"""Live tail locally, as API Gateway's WebSocket API does it.

A WebSocket at STREAM_PATH invokes the stream function with $connect, subscribe and
$disconnect events; /@connections/{id} answers API Gateway's management API, so the ingest
function's publisher posts here exactly as it posts to AWS. Each connection has a bounded
buffer: a slow client loses its oldest-pending messages (counted and reported to it), and
never slows ingestion.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from logsvc.routes import STREAM_FUNCTION
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler

# Messages waiting per connection (each holds up to 100 entries); LOGSVC_STREAM_BUFFER sets it.
BUFFER_MESSAGES = int(os.environ.get("LOGSVC_STREAM_BUFFER", "1000"))
HEARTBEAT_SECONDS = 15.0


@dataclass
class Connection:
    websocket: WebSocket
    buffer: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(BUFFER_MESSAGES))
    dropped: int = 0
    reported: int = 0
    # A Loki tail (logsvc_local.loki_tail) turns each message into its own frames.
    loki: Any = None

    def deliver(self, data: str) -> None:
        """Queue a message; when the buffer is full the oldest pending one makes room."""
        if self.buffer.full():
            evicted = self.buffer.get_nowait()
            self.dropped += 1
            if self.loki is not None:
                self.loki.dropped(evicted)
        self.buffer.put_nowait(data)


CONNECTIONS: dict[str, Connection] = {}


def websocket_event(
    route: str, connection_id: str, websocket: WebSocket, body: str | None = None
) -> dict[str, Any]:
    """The event API Gateway's WebSocket API sends to its route's function."""
    kinds = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route,
            "eventType": kinds.get(route, "MESSAGE"),
            "connectionId": connection_id,
            "domainName": websocket.url.netloc,
            "stage": "local",
            "apiId": "local",
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": websocket.client.host if websocket.client else None},
        },
        "isBase64Encoded": False,
    }
    if route == "$connect":
        event["headers"] = dict(websocket.headers.items())
        event["queryStringParameters"] = dict(websocket.query_params) or None
    if body is not None:
        event["body"] = body
    return event


async def invoke(event: dict[str, Any]) -> dict[str, Any]:
    handler = load_handler(STREAM_FUNCTION).lambda_handler
    return await run_in_threadpool(handler, event, LocalContext(STREAM_FUNCTION))


# Where the server puts "<key id>:<secret>" for the functions to sign management calls with.
STREAM_CREDENTIALS = "STREAM_LOCAL_CREDENTIALS"


async def stream_endpoint(websocket: WebSocket, loki: Any = None) -> None:
    """Live tail; with ``loki`` (a LokiTail), Loki's tail (the stream function subscribes
    the connection to its query at $connect)."""
    connection_id = uuid.uuid4().hex[:16]
    answer = await invoke(websocket_event("$connect", connection_id, websocket))
    if answer.get("statusCode") != 200:
        await websocket.close(code=1008, reason="unauthorized")  # before accept: HTTP 403
        return
    protocol = (answer.get("headers") or {}).get("Sec-WebSocket-Protocol")
    await websocket.accept(subprotocol=protocol)
    connection = CONNECTIONS[connection_id] = Connection(websocket, loki=loki)
    sender = asyncio.create_task(_send(connection))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is None:  # a binary frame: API Gateway's routes take text only
                await websocket.close(code=1003, reason="send text frames (JSON)")
                break
            try:
                action = json.loads(text).get("action")
            except (ValueError, AttributeError):
                action = None
            route = "subscribe" if action == "subscribe" else "$default"
            await invoke(websocket_event(route, connection_id, websocket, text))
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        CONNECTIONS.pop(connection_id, None)
        await invoke(websocket_event("$disconnect", connection_id, websocket))


async def _send(connection: Connection) -> None:
    """Buffered messages to the socket, a heartbeat when idle, drops reported once."""
    if connection.loki is not None:
        await connection.loki.send_all(connection)
        return
    while True:
        try:
            data = await asyncio.wait_for(connection.buffer.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            data = json.dumps({"type": "heartbeat", "dropped": connection.dropped})
        if connection.dropped > connection.reported:
            lost = connection.dropped - connection.reported
            connection.reported = connection.dropped
            await connection.websocket.send_text(json.dumps({"type": "dropped", "count": lost}))
        await connection.websocket.send_text(data)


async def management_api(request: Request) -> Response:
    """POST/DELETE/GET /@connections/{id}, answered as API Gateway does (410 when gone).

    Only this process may call it: boto3 signs its requests with the key id the server
    made up at start (``STREAM_LOCAL_CREDENTIALS``), which nobody else has seen.
    """
    if not _signed_by_this_process(request):
        return JSONResponse({"message": "Forbidden"}, status_code=403)
    connection = CONNECTIONS.get(request.path_params["connection_id"])
    if connection is None:
        return JSONResponse(
            {"message": "Gone"}, status_code=410, headers={"x-amzn-ErrorType": "GoneException"}
        )
    if request.method == "DELETE":
        await connection.websocket.close()
        return Response(status_code=204)
    if request.method == "GET":
        return JSONResponse({"connectedAt": None, "identity": {}})
    connection.deliver((await request.body()).decode("utf-8", errors="replace"))
    return Response(status_code=200)


def _signed_by_this_process(request: Request) -> bool:
    key_id = os.environ.get(STREAM_CREDENTIALS, "").split(":", 1)[0]
    credential = request.headers.get("authorization", "")
    return bool(key_id) and f"Credential={key_id}/" in credential
