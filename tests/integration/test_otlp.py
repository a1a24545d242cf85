"""POST /v1/logs: OTLP/HTTP in protobuf and JSON, gzip, partial success, the mapping."""

import gzip
import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from logsvc.sources.otlp import level_of, sanitize_service_name

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
T = 1_790_000_000_123_456_789  # ns


def kv(key, value):
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=value))


def protobuf_request(records, service="checkout api"):
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(
                    attributes=[kv("service.name", service), kv("host.name", "web-1")]
                ),
                scope_logs=[ScopeLogs(log_records=records)],
            )
        ]
    ).SerializeToString()


def post(api, body: bytes, content_type: str, encoding: str | None = None):
    headers = {"content-type": content_type}
    if encoding:
        headers["content-encoding"] = encoding
    return api.call("POST", "/v1/logs", raw_body=body, headers=headers)


def search(api, service):
    return api.get("/api/v1/logs/search", service=service).body["logs"]


def test_protobuf_records_are_mapped_and_stored(api):
    records = [
        LogRecord(
            time_unix_nano=T,
            severity_number=17,
            severity_text="Error",
            body=AnyValue(string_value="payment failed"),
            attributes=[kv("order.id", "o-1"), kv("attempt", 3)],
            trace_id=bytes.fromhex(TRACE_ID),
            span_id=bytes.fromhex(SPAN_ID),
        ),
        LogRecord(
            observed_time_unix_nano=T + 1_000_000,
            severity_number=1,
            body=AnyValue(string_value="trace detail"),
        ),
        LogRecord(
            time_unix_nano=T + 2_000_000,
            severity_number=21,
            body=AnyValue(kvlist_value={"values": [kv("event", "crash"), kv("code", 9)]}),
        ),
    ]
    response = post(api, protobuf_request(records), "application/x-protobuf")
    assert response.status == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    logs = {log["level"]: log for log in search(api, "checkout-api")}
    assert set(logs) == {"ERROR", "DEBUG", "CRITICAL"}
    error = logs["ERROR"]
    assert (error["message"], error["timestamp"]) == ("payment failed", T // 1_000_000)
    assert error["metadata"]["attributes"] == {"order.id": "o-1", "attempt": 3}
    assert error["metadata"]["resource"] == {"service.name": "checkout api", "host.name": "web-1"}
    assert (error["metadata"]["trace_id"], error["metadata"]["span_id"]) == (TRACE_ID, SPAN_ID)
    assert logs["DEBUG"]["timestamp"] == (T + 1_000_000) // 1_000_000
    assert logs["CRITICAL"]["message"] == '{"event":"crash","code":9}'
    assert logs["CRITICAL"]["metadata"]["body"] == {"event": "crash", "code": 9}


def test_json_with_hex_ids_and_gzip_answers_in_json(api):
    document = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "js-app"}}]
                },
                "scopeLogs": [
                    {
                        "scope": {"name": "my.logger", "version": "1.0"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(T),
                                "severityNumber": 13,
                                "body": {"stringValue": "slow"},
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "attributes": [{"key": "ms", "value": {"intValue": "1500"}}],
                            },
                            {
                                "timeUnixNano": str(T),
                                "severityText": "warning",
                                "body": {"stringValue": "w2"},
                            },
                        ],
                    }
                ],
            }
        ]
    }
    body = gzip.compress(json.dumps(document).encode())
    response = post(api, body, "application/json", "gzip")
    assert (response.status, response.body) == (200, {})
    logs = search(api, "js-app")
    assert {log["message"] for log in logs} == {"slow", "w2"}
    slow = next(log for log in logs if log["message"] == "slow")
    assert (slow["level"], slow["metadata"]["trace_id"]) == ("WARN", TRACE_ID)
    assert slow["metadata"]["scope"] == {"name": "my.logger", "version": "1.0"}
    assert slow["metadata"]["attributes"] == {"ms": 1500}


def test_invalid_records_are_counted_in_partial_success(api):
    records = [
        LogRecord(time_unix_nano=T, severity_number=9, body=AnyValue(string_value="ok")),
        LogRecord(time_unix_nano=T, severity_number=9),  # no body
        LogRecord(time_unix_nano=T, severity_number=9, body=AnyValue(string_value="")),
    ]
    response = post(api, protobuf_request(records, service="svc"), "application/x-protobuf")
    assert response.status == 200
    answer = ExportLogsServiceResponse.FromString(response.body)
    assert answer.partial_success.rejected_log_records == 2
    assert "message" in answer.partial_success.error_message
    assert [log["message"] for log in search(api, "svc")] == ["ok"]


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (b"\x0a\xff\xff", "application/x-protobuf", None),
        (b"{not json", "application/json", None),
        (b"[1, 2]", "application/json", None),
        (b"not gzip at all", "application/json", "gzip"),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
            "application/json",
            None,
        ),
    ],
)
def test_undecodable_bodies_are_400(api, body, content_type, encoding):
    response = post(api, body, content_type, encoding)
    assert response.status == 400
    assert response.body["field"] == "body"


def test_auth_is_the_authorization_header(api):
    response = api.call(
        "POST",
        "/v1/logs",
        raw_body=b"",
        key="wrong",
        headers={"content-type": "application/x-protobuf"},
    )
    assert response.status == 401


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("checkout", "checkout"),
        ("checkout api", "checkout-api"),
        ("a.b/c", "a-b-c"),
        ("", "unknown_service"),
        (None, "unknown_service"),
        ("...", "unknown_service"),
        ("x" * 200, "x" * 128),
    ],
)
def test_service_names_are_sanitised(name, expected):
    assert sanitize_service_name(name) == expected


@pytest.mark.parametrize(
    ("number", "text", "level"),
    [
        (1, "", "DEBUG"),
        (4, "", "DEBUG"),
        (5, "", "DEBUG"),
        (9, "", "INFO"),
        (13, "", "WARN"),
        (17, "", "ERROR"),
        (21, "", "CRITICAL"),
        (24, "", "CRITICAL"),
        (0, "TRACE", "DEBUG"),
        (0, "fatal", "CRITICAL"),
        (0, "Warning", "WARN"),
        (0, "", "INFO"),
        (0, "NOTICE", "INFO"),
    ],
)
def test_severity_mapping(number, text, level):
    assert level_of(number, text) == level
