"""Live tail over a real WebSocket against the local server."""

import contextlib
import json
import socket
import sqlite3
import time

import pytest
import requests
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.sync.client import connect
from websockets.uri import parse_uri

from logsvc.routes import STREAM_PATH

pytestmark = pytest.mark.e2e


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + STREAM_PATH


def subscribe(websocket, **filters) -> dict:
    websocket.send(json.dumps({"action": "subscribe", **filters}))
    return json.loads(websocket.recv(timeout=5))


def ingest(server, logs) -> float:
    started = time.monotonic()
    response = requests.post(
        f"{server.url}/api/v1/logs/ingest/batch",
        headers=server.headers,
        json={"logs": logs},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return time.monotonic() - started


def received(websocket, seconds: float = 1.0) -> list[dict]:
    """Every log that arrives within ``seconds``."""
    logs, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(websocket.recv(timeout=left))
        except TimeoutError:
            break
        if message["type"] == "logs":
            logs += message["logs"]
    return logs


def test_matching_entries_arrive_within_a_second_and_nothing_else(server):
    with connect(ws_url(server), additional_headers=server.headers) as websocket:
        ack = subscribe(websocket, services=["live-a", "live-b"], min_level="WARN", q="timeout")
        time.sleep(2.1)  # the writer sees new subscribers within 2 s (its registry cache)
        assert ack == {
            "type": "subscribed",
            "services": ["live-a", "live-b"],
            "min_level": "WARN",
            "q": "timeout",
        }
        sent = time.monotonic()
        ingest(
            server,
            [
                {"service_name": "live-a", "level": "ERROR", "message": "DB Timeout after 3s"},
                {"service_name": "live-b", "level": "WARNING", "message": "slow: timeout soon"},
                {"service_name": "live-a", "level": "INFO", "message": "timeout (info only)"},
                {"service_name": "live-a", "level": "ERROR", "message": "disk full"},
                {"service_name": "live-c", "level": "ERROR", "message": "timeout elsewhere"},
            ],
        )
        logs = received(websocket, 1.0)
        assert time.monotonic() - sent < 2
    assert sorted((log["service_name"], log["level"], log["message"]) for log in logs) == [
        ("live-a", "ERROR", "DB Timeout after 3s"),
        ("live-b", "WARN", "slow: timeout soon"),
    ]


def test_subscriptions_take_the_search_field_filters(server):
    with connect(ws_url(server), additional_headers=server.headers) as websocket:
        ack = subscribe(websocket, services=["live-f"], filters=["metadata.http.status>=500"])
        assert ack["filters"] == ["metadata.http.status>=500"]
        time.sleep(2.1)
        ingest(
            server,
            [
                {
                    "service_name": "live-f",
                    "level": "INFO",
                    "message": "a",
                    "metadata": {"http": {"status": 503}},
                },
                {
                    "service_name": "live-f",
                    "level": "INFO",
                    "message": "b",
                    "metadata": {"http": {"status": 200}},
                },
                {"service_name": "live-f", "level": "INFO", "message": "c"},
            ],
        )
        assert [log["message"] for log in received(websocket, 1.0)] == ["a"]
        reply = subscribe(websocket, filters=["status>=500"])
        assert (reply["type"], reply["field"]) == ("error", "filters")


def test_unauthenticated_connections_are_refused(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(server), additional_headers=headers).close()
        assert refused.value.response.status_code == 403


def test_browsers_authenticate_with_a_token_or_the_subprotocol(server):
    with connect(f"{ws_url(server)}?token={server.api_key}") as websocket:
        assert subscribe(websocket)["type"] == "subscribed"
    with connect(ws_url(server), subprotocols=["bearer", server.api_key]) as websocket:
        assert websocket.subprotocol == "bearer"
        assert subscribe(websocket)["type"] == "subscribed"


def test_bad_subscriptions_are_answered_with_an_error(server):
    with connect(ws_url(server), additional_headers=server.headers) as websocket:
        reply = subscribe(websocket, min_level="LOUD")
        assert (reply["type"], reply["field"]) == ("error", "min_level")


def test_disconnects_are_cleaned_up(server):
    database = server.data_dir / "logs.db"

    def connections() -> int:
        with sqlite3.connect(database) as db:
            return db.execute("SELECT count(*) FROM stream_connections").fetchone()[0]

    def settles_at(count: int) -> bool:
        deadline = time.monotonic() + 5
        while connections() != count and time.monotonic() < deadline:
            time.sleep(0.05)
        return connections() == count

    assert settles_at(0)  # earlier tests' connections are gone
    with connect(ws_url(server), additional_headers=server.headers) as websocket:
        subscribe(websocket)
        assert connections() == 1
    assert settles_at(0)


class StalledClient:
    """A WebSocket client that stops reading after subscribing: websockets' sans-I/O
    protocol over a plain socket with a tiny receive buffer, read only when asked."""

    def __init__(self, url: str, headers: dict[str, str]):
        uri = parse_uri(url)
        self.protocol = ClientProtocol(uri)
        self.sock = socket.create_connection((uri.host, uri.port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        request = self.protocol.connect()
        request.headers.update(headers)
        self.protocol.send_request(request)
        self._flush()
        while self.protocol.state is not State.OPEN:
            self.protocol.receive_data(self.sock.recv(65536))
            assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def send(self, message: dict) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def read_until(self, kind: str, seconds: float) -> set[str]:
        """Start reading again; the message types seen until ``kind`` (or the timeout)."""
        self.sock.settimeout(seconds)
        kinds: set[str] = set()
        with contextlib.suppress(TimeoutError, OSError):
            while kind not in kinds:
                self.protocol.receive_data(self.sock.recv(65536))
                self._flush()  # pongs
                kinds |= {
                    json.loads(event.data)["type"]
                    for event in self.protocol.events_received()
                    if isinstance(event, Frame) and event.opcode == Opcode.TEXT
                }
        return kinds

    def close(self) -> None:
        self.sock.close()


def test_a_stalled_client_never_slows_ingestion(server):
    stalled = StalledClient(ws_url(server), server.headers)
    try:
        stalled.send({"action": "subscribe", "services": ["live-flood"]})
        time.sleep(2.1)  # the writer sees new subscribers within 2 s (its registry cache)
        page = [{"service_name": "live-flood", "level": "INFO", "message": "x" * 1000}] * 100
        slowest = max(ingest(server, page) for _ in range(40))  # 4,000 entries, ~4.4 MB
        assert slowest < 1.0  # nobody waits for the client that does not read
        assert "logs" in stalled.read_until("logs", seconds=10)  # and it is still served
    finally:
        stalled.close()
    stats = requests.get(
        f"{server.url}/api/v1/logs/stats/live-flood", headers=server.headers, timeout=10
    ).json()
    assert stats["total"] == 4_000
