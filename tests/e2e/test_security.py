"""Security over real HTTP: CORS, rate limits, redaction, keys made with the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Server

ORIGIN = "https://app.example.com"
LOGSVC = str(Path(sys.executable).parent / "logsvc")


class _Http(requests.Session):
    """Every request with a timeout, so a hung server fails the test instead of CI."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", 10)
        return super().request(*args, **kwargs)


http = _Http()


def test_cors_is_off_by_default(server: Server):
    answer = http.get(
        f"{server.url}/api/v1/logs/services", headers={**server.headers, "Origin": ORIGIN}
    )
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers
    preflight = http.options(
        f"{server.url}/api/v1/logs/services",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_configured_origins(guarded_server: Server):
    url = f"{guarded_server.url}/api/v1/logs/search"
    preflight = http.options(
        url,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    answer = http.get(url, headers={**guarded_server.headers, "Origin": ORIGIN})
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    # Errors carry it too, so a browser can read the message.
    unauthorised = http.get(url, headers={"Origin": ORIGIN})
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == ORIGIN
    other = http.get(url, headers={**guarded_server.headers, "Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in other.headers
    refused = http.options(
        url, headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 403


def test_redaction_happens_before_anything_is_stored(guarded_server: Server):
    card = "4111 1111 1111 1111"
    message = (
        f"charge failed for jane@example.com card {card} order-123456 "
        "auth=Bearer abc.def-ghi_123 ticket 1234 5678 9012 3456"
    )
    metadata = {"password": "hunter2", "request": {"api_key": "k-123", "tokens": 5}}
    created = http.post(
        f"{guarded_server.url}/api/v1/logs/ingest",
        headers=guarded_server.headers,
        json={
            "service_name": "payments",
            "level": "ERROR",
            "message": message,
            "metadata": metadata,
        },
    )
    assert created.status_code == 201, created.text
    entry_id = created.json()["id"]
    full = http.get(
        f"{guarded_server.url}/api/v1/logs/logs/{entry_id}/full", headers=guarded_server.headers
    ).json()
    assert full["message"] == (
        "charge failed for [REDACTED:email] card [REDACTED:card] [REDACTED] "
        "auth=Bearer [REDACTED] ticket 1234 5678 9012 3456"  # not a valid card number
    )
    assert full["metadata"] == {
        "password": "[REDACTED]",
        "request": {"api_key": "[REDACTED]", "tokens": 5},
    }
    # Nothing on disk (index or archive) holds the originals.
    for path in guarded_server.data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in (b"hunter2", b"jane@example.com", b"4111 1111", b"abc.def-ghi"):
                assert secret not in content, (path, secret)


def test_rate_limits_mirror_the_waf_rules(guarded_server: Server):
    batch_url = f"{guarded_server.url}/api/v1/logs/ingest/batch"
    body = {"logs": [{"service_name": "rl", "level": "INFO", "message": "x"}]}
    statuses = [
        http.post(batch_url, headers=guarded_server.headers, json=body).status_code
        for _ in range(4)
    ]
    assert statuses == [201, 201, 201, 429]
    refused = http.post(batch_url, headers=guarded_server.headers, json=body)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "3 batch requests per minute" in refused.json()["error"]
    # Other routes have their own, larger allowance (40 a minute, batch requests included).
    search = f"{guarded_server.url}/api/v1/logs/services"
    answers = [http.get(search, headers=guarded_server.headers) for _ in range(40)]
    codes = [a.status_code for a in answers]
    assert 200 in codes and codes[-1] == 429
    assert codes.count(200) <= 40 - 5
    stored = subprocess.run(  # on the database: the API would be rate limited now
        [LOGSVC, "keys", "list", "--direct", "--data-dir", str(guarded_server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(stored.stdout) == []


def test_key_made_with_the_cli_works_over_http(server: Server):
    made = subprocess.run(
        [
            LOGSVC,
            "keys",
            "create",
            "--name",
            "checkout-app",
            "--scope",
            "ingest",
            "--service",
            "checkout",
            "--data-dir",
            str(server.data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    created = json.loads(made.stdout)
    headers = {"Authorization": f"Bearer {created['key']}"}
    entry = {"service_name": "checkout", "level": "INFO", "message": "hello"}
    assert http.post(f"{server.url}/api/v1/logs/ingest", headers=headers, json=entry).ok
    other = {**entry, "service_name": "billing"}
    assert (
        http.post(f"{server.url}/api/v1/logs/ingest", headers=headers, json=other).status_code
        == 403
    )
    assert http.get(f"{server.url}/api/v1/logs/search", headers=headers).status_code == 403
    revoked = subprocess.run(
        [LOGSVC, "keys", "revoke", created["id"], "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
    )
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    # Through the running server's API: the key stops working at once.
    assert (
        http.post(f"{server.url}/api/v1/logs/ingest", headers=headers, json=entry).status_code
        == 401
    )
    listed = subprocess.run(
        [LOGSVC, "keys", "list", "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    (key,) = [k for k in json.loads(listed.stdout) if k["id"] == created["id"]]
    assert key["revoked_at"] is not None


def test_the_local_management_api_answers_only_the_server_itself(server: Server):
    # Anyone who learns a connection id could otherwise inject entries or close it.
    for method in ("POST", "DELETE", "GET"):
        answer = http.request(method, f"{server.url}/@connections/abc123", data=b"{}")
        assert answer.status_code == 403, method


def test_405_names_the_allowed_methods(server: Server):
    answer = http.delete(f"{server.url}/api/v1/logs/config/svc", headers=server.headers)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, PUT"
    assert answer.json()["success"] is False


def test_a_live_tail_token_never_reaches_the_access_log(server: Server):
    import websockets.sync.client

    url = server.url.replace("http://", "ws://") + f"/api/v1/logs/stream?token={server.api_key}"
    with websockets.sync.client.connect(url) as socket:
        socket.send('{"action": "subscribe"}')
    time.sleep(0.5)
    log = "".join(server.output)
    assert "/api/v1/logs/stream?token=[REDACTED]" in log
    after_start = log.split("Application startup complete", 1)[1]  # the banner shows the key
    assert server.api_key not in after_start


def test_a_binary_frame_closes_the_connection_with_1003(server: Server):
    import websockets.sync.client
    from websockets.exceptions import ConnectionClosed

    url = server.url.replace("http://", "ws://") + "/api/v1/logs/stream"
    with websockets.sync.client.connect(
        url, additional_headers={"Authorization": f"Bearer {server.api_key}"}
    ) as socket:
        socket.send(b"\x00\x01binary")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd.code == 1003


def test_a_client_leaving_mid_body_costs_one_line(server: Server):
    import socket as sockets

    host, port = server.url.removeprefix("http://").split(":")
    before = len(server.output)
    with sockets.create_connection((host, int(port))) as raw:
        raw.sendall(
            b"POST /api/v1/logs/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + server.api_key.encode() + b"\r\n"
            b'Content-Length: 1000\r\n\r\n{"service_name":'
        )
    time.sleep(1)
    added = "".join(server.output[before:])
    assert "Traceback" not in added
    assert "went away" in added
    assert http.get(f"{server.url}/health").status_code == 200
