"""The original README's examples, run against a real local server over real HTTP."""

import json
import shutil
import subprocess

import pytest
import requests

from tests.e2e.original_logger import CloudflareLogger

pytestmark = pytest.mark.e2e


def curl(server, method, path, body=None):
    """Run the README's curl command line, with the local URL and key."""
    assert shutil.which("curl"), "curl is needed for the README examples"
    command = [
        "curl",
        "-sS",
        "-X",
        method,
        f"{server.url}{path}",
        "-H",
        f"Authorization: Bearer {server.api_key}",
        "-w",
        "\n%{http_code}",
    ]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    text, status = out.rsplit("\n", 1)
    return int(status), json.loads(text)


def test_readme_curl_examples(server):
    status, body = curl(
        server,
        "POST",
        "/api/v1/logs/ingest",
        {
            "service_name": "python-data-processor",
            "level": "ERROR",
            "message": "Database connection failed",
            "metadata": {"error_code": "DB_TIMEOUT", "retry_count": 3},
        },
    )
    assert (status, body["success"]) == (201, True)

    status, body = curl(
        server,
        "POST",
        "/api/v1/logs/ingest/batch",
        {
            "logs": [
                {
                    "service_name": "api-gateway",
                    "level": "INFO",
                    "message": "Request processed successfully",
                },
                {"service_name": "api-gateway", "level": "ERROR", "message": "Validation failed"},
            ]
        },
    )
    assert (status, body["accepted"], body["rejected"]) == (201, 2, 0)

    status, body = curl(
        server, "GET", "/api/v1/logs/search?service=api-gateway&level=ERROR&limit=50"
    )
    assert status == 200
    assert [e["message"] for e in body["logs"]] == ["Validation failed"]

    status, body = curl(server, "GET", "/api/v1/logs/stats/api-gateway")
    assert (status, body["total"], body["levels"]["ERROR"]) == (200, 2, 1)

    status, body = curl(
        server,
        "PUT",
        "/api/v1/logs/config/my-service",
        {
            "ttl_days": 90,
            "retention_policy": "extended",
            "alert_on_errors": True,
            "max_logs_per_day": 1000000,
        },
    )
    assert (status, body["ttl_days"], body["retention_policy"]) == (200, 90, "extended")

    status, body = curl(server, "GET", "/health")
    assert (status, body["status"], body["db"]) == (200, "healthy", "connected")


def test_original_python_logger_works_unchanged(server, capsys):
    logger = CloudflareLogger(
        service_name="python-data-processor-e2e", api_url=server.url, api_key=server.api_key
    )
    logger.info("Processing started", job_id="123", batch_size=1000)
    logger.error("Database error", error_code="TIMEOUT", retry=3)
    assert "[LOG ERROR]" not in capsys.readouterr().out

    session = requests.Session()
    session.headers.update(server.headers)
    recent = session.get(f"{server.url}/api/v1/logs/recent/python-data-processor-e2e").json()
    assert [(e["level"], e["message"], e["metadata"]) for e in recent["logs"]] == [
        ("ERROR", "Database error", {"error_code": "TIMEOUT", "retry": 3}),
        ("INFO", "Processing started", {"job_id": "123", "batch_size": 1000}),
    ]
    stats = session.get(f"{server.url}/api/v1/logs/stats/python-data-processor-e2e").json()
    assert (stats["total"], stats["levels"]["INFO"], stats["levels"]["ERROR"]) == (2, 1, 1)
    found = session.get(
        f"{server.url}/api/v1/logs/search",
        params={"q": "database", "service": "python-data-processor-e2e"},
    ).json()
    assert [e["message"] for e in found["logs"]] == ["Database error"]


def test_full_returns_a_5000_character_message_whole(server):
    message = "".join(chr(ord("a") + i % 26) for i in range(4999)) + "é"
    response = requests.post(
        f"{server.url}/api/v1/logs/ingest",
        headers=server.headers,
        json={"service_name": "big-messages", "level": "INFO", "message": message},
        timeout=10,
    )
    log_id = response.json()["id"]
    indexed = requests.get(
        f"{server.url}/api/v1/logs/logs/{log_id}", headers=server.headers, timeout=10
    ).json()
    assert indexed["message"] == message[:1000]
    full = requests.get(
        f"{server.url}/api/v1/logs/logs/{log_id}/full", headers=server.headers, timeout=10
    ).json()
    assert full["message"] == message
    assert len(full["message"]) == 5000
