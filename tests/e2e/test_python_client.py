"""The Python logging handler and client against a real local server over HTTP."""

import io
import logging
import time
from contextlib import redirect_stderr

import pytest
import requests
from logsvc_client import CloudflareLogger, LogServiceClient, LogServiceHandler

from tests.support.proxy import Proxy

pytestmark = pytest.mark.e2e


def stats(server, service):
    return requests.get(
        f"{server.url}/api/v1/logs/stats/{service}", headers=server.headers, timeout=10
    ).json()


def test_10000_records_arrive_exactly_once_through_a_503_period(server):
    proxy = Proxy(server.url, fail_for=1.5)
    handler = LogServiceHandler(proxy.url, server.api_key, "handler-e2e", flush_interval=0.2)
    logger = logging.getLogger("handler-e2e")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        started = time.monotonic()
        for i in range(10_000):
            logger.info("record %d", i, extra={"sequence": i})
        assert time.monotonic() - started < 5  # emit never waits for the network
        assert handler.flush(timeout=60)
    finally:
        logger.removeHandler(handler)
        handler.close()
        proxy.close()
    assert proxy.failures > 0
    assert (handler.sent, handler.rejected, handler.dropped) == (10_000, 0, 0)
    assert stats(server, "handler-e2e")["total"] == 10_000
    first = requests.get(
        f"{server.url}/api/v1/logs/search",
        headers=server.headers,
        params={"service": "handler-e2e", "q": "record 9999 "[:-1]},
        timeout=10,
    ).json()["logs"]
    assert [log["metadata"]["sequence"] for log in first] == [9999]


def test_extra_fields_levels_and_tracebacks(server):
    handler = LogServiceHandler(server.url, server.api_key, "handler-fields")
    logger = logging.getLogger("handler-fields")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.warning("disk %s%% full", 91, extra={"mount": "/data", "host": "db-1"})
        try:
            {}["currency"]
        except KeyError:
            logger.exception("pricing failed")
        handler.flush(timeout=10)
    finally:
        logger.removeHandler(handler)
        handler.close()
    logs = requests.get(
        f"{server.url}/api/v1/logs/recent/handler-fields", headers=server.headers, timeout=10
    ).json()["logs"]
    by_level = {log["level"]: log for log in logs}
    warn = by_level["WARN"]
    assert warn["message"] == "disk 91% full"
    assert {"mount": "/data", "host": "db-1", "logger": "handler-fields"}.items() <= (
        warn["metadata"].items()
    )
    exception = by_level["ERROR"]["metadata"]["exception"]
    assert (exception["type"], exception["message"]) == ("KeyError", "'currency'")
    assert "Traceback (most recent call last)" in exception["traceback"]


def test_a_full_queue_drops_the_oldest_and_never_blocks_the_application():
    # Nothing listens on port 9 here: every send fails and is retried.
    handler = LogServiceHandler(
        "http://127.0.0.1:9",
        "key",
        "nowhere",
        max_queue=100,
        batch_size=50,
        flush_interval=0.05,
        close_timeout=0.5,
    )
    logger = logging.getLogger("handler-nowhere")
    logger.propagate = False
    logger.addHandler(handler)
    started = time.monotonic()
    for i in range(250):
        logger.error("lost %d", i)
    assert time.monotonic() - started < 1
    logger.removeHandler(handler)
    with redirect_stderr(io.StringIO()) as stderr:
        handler.close()
    assert time.monotonic() - started < 10
    assert handler.sent == 0
    assert handler.dropped == 250
    assert "250 log records were dropped" in stderr.getvalue()


def test_the_synchronous_client_in_the_original_shape(server):
    client = LogServiceClient("client-e2e", server.url, server.api_key)
    assert client.info("Processing started", job_id="123", batch_size=1000)
    assert client.error("Database error", error_code="TIMEOUT", retry=3)
    logs = requests.get(
        f"{server.url}/api/v1/logs/recent/client-e2e", headers=server.headers, timeout=10
    ).json()["logs"]
    assert [(log["level"], log["metadata"]) for log in logs] == [
        ("ERROR", {"error_code": "TIMEOUT", "retry": 3}),
        ("INFO", {"job_id": "123", "batch_size": 1000}),
    ]
    with redirect_stderr(io.StringIO()) as stderr:
        assert LogServiceClient("x", "http://127.0.0.1:9", "k").info("hello") is None
        assert LogServiceClient("bad name", server.url, server.api_key).info("hello") is None
    assert stderr.getvalue().count("[LOG ERROR]") == 2


def test_answers_lost_after_storing_do_not_duplicate(server):
    """The proxy stores each batch, then answers 502 for a second: the handler retries with
    the batch's Idempotency-Key, and the service keeps one copy."""
    proxy = Proxy(server.url, fail_for=1.0, fail_status=502, lose_answers=True)
    handler = LogServiceHandler(
        proxy.url, server.api_key, "handler-lost", flush_interval=0.1, batch_size=200
    )
    logger = logging.getLogger("handler-lost")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(2000):
            logger.warning("record %d", i)
        assert handler.flush(timeout=60)
    finally:
        logger.removeHandler(handler)
        handler.close()
        proxy.close()
    assert proxy.failures > 0
    assert stats(server, "handler-lost")["total"] == 2000


def test_the_readme_cloudflare_logger_example_runs_as_shown(server):
    logger = CloudflareLogger(
        service_name="python-data-processor", api_url=server.url, api_key=server.api_key
    )
    first = logger.info("Processing started", job_id="123", batch_size=1000)
    second = logger.error("Database error", error_code="TIMEOUT", retry=3)
    deadline = time.monotonic() + 10
    found = None
    while time.monotonic() < deadline:
        found = requests.get(
            f"{server.url}/api/v1/logs/logs/{second}", headers=server.headers, timeout=10
        )
        if found.status_code == 200:
            break
        time.sleep(0.1)
    assert first and found.status_code == 200
    assert found.json()["metadata"] == {"error_code": "TIMEOUT", "retry": 3}
