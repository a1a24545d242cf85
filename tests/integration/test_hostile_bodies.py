"""Hostile and malformed bodies on the push routes: a clear 4xx naming the place, never a
500, and refused before they are expanded (issue: amplification through OTLP and Tail)."""

import gzip
import json
import time

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from logsvc.sources.otlp import count_records
from tests.support.protobuf import empty_loki_entries, varint

OTLP_JSON = {"content-type": "application/json"}


def otlp(api, body: bytes, headers: dict[str, str]):
    return api.call("POST", "/v1/logs", raw_body=body, headers=headers)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"resourceLogs": [1]}',
        b'{"resourceLogs": "abc"}',
        b'{"resourceLogs": {"a": 1}}',
        b'{"resourceLogs": [{"scopeLogs": [1]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [1]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": "x"}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": 5}]}]}]}',
        b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
    ],
)
def test_malformed_otlp_json_is_400(api, body):
    answer = otlp(api, body, OTLP_JSON)
    assert answer.status in (400, 413), (answer.status, answer.body)
    assert answer.body["field"] == "body"


@pytest.mark.parametrize(
    ("items", "place"),
    [
        ([{"logs": [1]}], "[0].logs[0]"),
        ([{"logs": "abc"}], "[0].logs"),
        ([{"exceptions": [1]}], "[0].exceptions[0]"),
        ([{"exceptions": "abc"}], "[0].exceptions"),
        ([{"outcome": {}}], "[0].outcome"),
        ([{"outcome": [1]}], "[0].outcome"),
        ([{"logs": [{"level": "log", "message": ["ok"]}]}, {"event": 5}], "[1].event"),
    ],
)
def test_malformed_trace_items_are_400_naming_the_place(api, items, place):
    answer = api.post("/api/v1/logs/tail", items)
    assert answer.status == 400, answer.body
    assert place in answer.body["error"]


def test_a_million_empty_otlp_records_are_refused_before_they_are_built(api):
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    for _ in range(10_001):
        records.add()
    small = request.SerializeToString()
    big = small + small[:0]  # the same shape, 10,001 records
    assert count_records(big) == 10_001
    million = gzip.compress(big * 100)  # 100 resource_logs: over a million records, ~20 KB
    answer = otlp(
        api,
        million,
        {"content-type": "application/x-protobuf", "content-encoding": "gzip"},
    )
    assert answer.status == 413


def test_a_gzip_bomb_is_refused(api):
    bomb = gzip.compress(b'{"resourceLogs": []}' + b" " * (64 * 1024 * 1024))
    answer = otlp(api, bomb, {**OTLP_JSON, "content-encoding": "gzip"})
    assert answer.status == 413


def test_a_million_console_calls_are_refused_before_they_are_mapped(api):
    body = json.dumps([{"logs": [{}] * 1_000_000}]).encode()
    answer = api.call("POST", "/api/v1/logs/tail", raw_body=body)
    assert answer.status == 413


def test_millions_of_empty_objects_are_refused_unparsed(api):
    body = b"[" + b",".join([b"{}"] * 1_000_000) + b"]"
    answer = api.call("POST", "/api/v1/logs/tail", raw_body=body)
    assert answer.status == 413
    assert answer.body["field"] == "body"


def test_media_types_are_case_insensitive(api):
    entry = {"service_name": "a", "level": "INFO", "message": "m"}
    for declared in ("APPLICATION/JSON", "Application/Json; charset=UTF-8"):
        answer = api.call(
            "POST", "/api/v1/logs/ingest", body=entry, headers={"content-type": declared}
        )
        assert answer.status == 201, (declared, answer.body)


def test_a_level_is_read_in_ascii_only(api):
    answer = api.post(
        "/api/v1/logs/ingest", {"service_name": "a", "level": "\u0131nfo", "message": "m"}
    )
    assert answer.status == 400
    assert answer.body["field"] == "level"


def test_a_key_for_no_listed_service_is_refused(api):
    answer = api.post("/api/v1/admin/keys", {"name": "n", "scopes": ["read"], "services": []})
    assert answer.status == 400
    assert answer.body["field"] == "services"
    assert api.get("/api/v1/admin/keys").body["keys"] == []


def loki_push(api, body: bytes, content_type: str = "application/x-protobuf"):
    return api.call(
        "POST", "/loki/api/v1/push", raw_body=body, headers={"content-type": content_type}
    )


def test_eight_million_empty_loki_entries_are_refused_before_they_are_built(api):
    """Two bytes an entry: 16 MB of protobuf (751 KB snappy) is 8 million entries, about
    0.5 GB once parsed; they are counted on the wire and refused at once."""
    import cramjam

    body = empty_loki_entries(8_000_000)
    started = time.monotonic()
    answer = loki_push(api, bytes(cramjam.snappy.compress_raw(body)))
    assert answer.status == 413
    assert "more than 10000 entries" in answer.body["message"]
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("labels", "says"),
    [
        ({f"l{i}": "v" for i in range(16)}, "16 label names; at most 15"),
        ({"service_name": "s", "n" * 1025: "v"}, "at most 1024"),
        ({"service_name": "s", "host": "v" * 2049}, "at most 2048"),
    ],
)
def test_lokis_label_limits_are_400s_naming_the_limit(api, labels, says):
    body = {"streams": [{"stream": labels, "values": [[str(time.time_ns()), "line"]]}]}
    answer = loki_push(api, json.dumps(body).encode(), "application/json")
    assert answer.status == 400
    assert says in answer.body["message"]
    assert api.get("/api/v1/logs/search", q="line").body["logs"] == []


def promtail_push(labels: str, lines: list[bytes]) -> bytes:
    """A snappy PushRequest, built as bytes so a line may be anything an agent sends."""
    import cramjam

    def field(number: int, payload: bytes) -> bytes:
        return varint(number << 3 | 2) + varint(len(payload)) + payload

    now = time.time_ns()
    entries = b"".join(
        field(
            2,
            field(1, b"\x08" + varint(now // 10**9) + b"\x10" + varint(now % 10**9 + i))
            + field(2, line),
        )
        for i, line in enumerate(lines)
    )
    stream = field(1, labels.encode()) + entries
    return bytes(cramjam.snappy.compress_raw(field(1, stream)))


def test_a_line_that_is_not_utf8_is_repaired_not_the_push_refused(api):
    body = promtail_push('{job="bad-bytes"}', [b"ok line", b"caf\xe9 \xff", b"last line"])
    # A push that names no media type is protobuf, as in Loki.
    answer = api.call("POST", "/loki/api/v1/push", raw_body=body, headers={"content-type": ""})
    assert answer.status == 204, answer.body
    found = api.get("/api/v1/logs/search", service="bad-bytes").body["logs"]
    assert sorted(e["message"] for e in found) == ["caf\ufffd \ufffd", "last line", "ok line"]


@pytest.mark.parametrize(
    ("labels", "stored"),
    [
        ('{job="go", tag="a\\x01b"}', "a\x01b"),
        ('{job="go", tag="\\a\\v\\101\\U0001F600"}', "\x07\x0bA\U0001f600"),
        ('{job="go", tag="back\\\\x01"}', "back\\x01"),
    ],
)
def test_go_escapes_in_labels_are_read_as_go_reads_them(api, labels, stored):
    answer = loki_push(api, promtail_push(labels, [b"line"]))
    assert answer.status == 204, answer.body
    (entry,) = api.get("/api/v1/logs/search", service="go").body["logs"]
    assert entry["metadata"]["labels"]["tag"] == stored


@pytest.mark.parametrize("labels", ['{job="go", tag="\\q"}', '{job="go", tag="\\xZZ"}'])
def test_an_escape_go_does_not_read_is_a_400_naming_the_stream(api, labels):
    answer = loki_push(api, promtail_push(labels, [b"line"]))
    assert answer.status == 400
    assert answer.body["message"].startswith("streams[0]: ")


def test_a_timestamp_of_unicode_digits_is_a_400_not_a_500(api):
    body = {"streams": [{"stream": {"job": "j"}, "values": [["²", "line"]]}]}
    answer = loki_push(api, json.dumps(body).encode(), "application/json")
    assert answer.status == 400
    assert "Unix nanosecond" in answer.body["message"]
