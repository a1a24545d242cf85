"""The real OpenTelemetry Python SDK exports stdlib logging to POST /v1/logs over HTTP."""

import logging

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_logs_are_found_by_search(server, compression):
    service = f"otel-sdk-{compression.value}"
    provider = LoggerProvider(
        resource=Resource.create({"service.name": service, "deployment.environment": "test"})
    )
    exporter = OTLPLogExporter(
        endpoint=f"{server.url}/v1/logs", headers=server.headers, compression=compression
    )
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = logging.getLogger(service)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(LoggingHandler(logger_provider=provider))
    try:
        logger.debug("cache warmed")
        logger.warning("slow query", extra={"query.ms": 1500})
        try:
            1 / 0  # noqa: B018
        except ZeroDivisionError:
            logger.exception("report failed")
        logger.critical("out of workers")
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    logs = requests.get(
        f"{server.url}/api/v1/logs/search",
        headers=server.headers,
        params={"service": service},
        timeout=10,
    ).json()["logs"]
    by_level = {log["level"]: log for log in logs}
    assert set(by_level) == {"DEBUG", "WARN", "ERROR", "CRITICAL"}
    warn = by_level["WARN"]
    assert warn["message"] == "slow query"
    assert warn["metadata"]["attributes"]["query.ms"] == 1500
    assert warn["metadata"]["resource"]["deployment.environment"] == "test"
    error = by_level["ERROR"]["metadata"]["attributes"]
    assert error["exception.type"] == "ZeroDivisionError"
    assert "Traceback" in error["exception.stacktrace"]


def test_otlp_json_with_gzip_over_http(server):
    import gzip
    import json

    document = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "otel-json"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1790000000123000000",
                                "severityNumber": 17,
                                "body": {"stringValue": "upstream 503"},
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = requests.post(
        f"{server.url}/v1/logs",
        data=gzip.compress(json.dumps(document).encode()),
        timeout=10,
        headers={**server.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert (response.status_code, response.json()) == (200, {})
    (log,) = requests.get(
        f"{server.url}/api/v1/logs/recent/otel-json", headers=server.headers, timeout=10
    ).json()["logs"]
    assert (log["level"], log["message"], log["timestamp"]) == (
        "ERROR",
        "upstream 503",
        1790000000123,
    )
    assert log["metadata"]["trace_id"] == "5b8efff798038103d269b633813fc60c"
