"""Property tests (hypothesis): normalisation, the TraceItem mapper and the OTLP mapper.

Whatever a client or a Worker sends, the mappers produce items the ingest pipeline
accepts or refuses with a named field, and never raise.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from pydantic import ValidationError

from logsvc.entries import (
    EARLIEST_PLAUSIBLE_MS,
    LEVELS,
    SERVICE_NAME_PATTERN,
    LogInput,
    sanitize_service_name,
)
from logsvc.problems import first_problem
from logsvc.sources import cloudflare_tail, otlp
from tests.property.strategies import json_values

NOW = 1_800_000_000_000
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.dictionaries(st.sampled_from(list(LogInput.model_fields)), json_values) | json_values)
def test_any_json_is_accepted_or_refused_with_a_field(item):
    try:
        entry = LogInput.model_validate(item)
    except ValidationError as exc:
        field, message = first_problem(exc.errors())
        assert field and message
        return
    assert entry.level in LEVELS
    assert SERVICE_NAME_PATTERN.fullmatch(entry.service_name)
    assert "\x00" not in entry.message


@FAST
@given(
    level=st.sampled_from(["debug", "Info", "WARNING", "warn", "error", "FATAL", " critical "]),
    message=st.text(min_size=1, max_size=200),
    metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=5) | st.none(),
)
def test_valid_entries_normalise(level, message, metadata):
    entry = LogInput.model_validate(
        {"service_name": "svc", "level": level, "message": message, "metadata": metadata}
    )
    assert entry.level in LEVELS
    assert entry.message == message.replace("\x00", "\ufffd")
    assert entry.metadata == metadata


@FAST
@given(json_values)
def test_sanitized_service_names_are_always_valid(name):
    assert SERVICE_NAME_PATTERN.fullmatch(sanitize_service_name(name))


console_log = st.fixed_dictionaries(
    {
        "level": st.sampled_from(["log", "info", "debug", "warn", "error", "trace"]) | st.text(),
        "message": st.lists(json_values, max_size=3),
        "timestamp": st.integers(min_value=EARLIEST_PLAUSIBLE_MS, max_value=4_000_000_000_000),
    }
)
exception = st.fixed_dictionaries(
    {
        "name": st.text(max_size=20),
        "message": st.text(max_size=50),
        "timestamp": st.integers(min_value=EARLIEST_PLAUSIBLE_MS, max_value=4_000_000_000_000),
    }
)
trace_item = st.fixed_dictionaries(
    {
        "scriptName": st.none() | st.text(max_size=40),
        "outcome": st.sampled_from(["ok", "exception", "exceededCpu", "canceled"]) | st.text(),
        "eventTimestamp": st.none()
        | st.integers(min_value=EARLIEST_PLAUSIBLE_MS, max_value=4_000_000_000_000),
        "logs": st.lists(console_log, max_size=4),
        "exceptions": st.lists(exception, max_size=2),
    },
    optional={"event": st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3)},
)


@FAST
@given(st.lists(trace_item, max_size=4))
def test_trace_items_map_to_valid_entries(items):
    mapped = cloudflare_tail.to_log_items(items, NOW)
    assert len(mapped) >= sum(len(i["logs"]) + len(i["exceptions"]) for i in items)
    for item in mapped:
        entry = LogInput.model_validate(item)
        assert SERVICE_NAME_PATTERN.fullmatch(entry.service_name)
        assert json.dumps(entry.metadata)  # storable as JSON


any_value = st.recursive(
    st.builds(AnyValue, string_value=st.text(max_size=30))
    | st.builds(AnyValue, int_value=st.integers(-(2**63), 2**63 - 1))
    | st.builds(AnyValue, bool_value=st.booleans())
    | st.builds(AnyValue, double_value=st.floats(allow_nan=False, allow_infinity=False))
    | st.builds(AnyValue, bytes_value=st.binary(max_size=8)),
    lambda children: st.lists(children, max_size=3).map(
        lambda values: AnyValue(array_value={"values": values})
    ),
    max_leaves=6,
)
attributes = st.lists(st.builds(KeyValue, key=st.text(max_size=10), value=any_value), max_size=4)
record = st.builds(
    LogRecord,
    # 0 is OTLP's unknown time; anything else before 2001 is refused at ingest (a unit mixup).
    time_unix_nano=st.just(0) | st.integers(EARLIEST_PLAUSIBLE_MS * 10**6, 4 * 10**18),
    severity_number=st.integers(0, 24),
    severity_text=st.text(max_size=10),
    body=st.none() | any_value,
    attributes=attributes,
    trace_id=st.sampled_from([b"", bytes(range(16))]),
)


@FAST
@given(
    service=st.none() | st.text(max_size=40),
    records=st.lists(record, min_size=1, max_size=5),
    resource_attributes=attributes,
)
def test_otlp_records_map_to_valid_entries(service, records, resource_attributes):
    resource = resource_attributes + (
        [KeyValue(key="service.name", value=AnyValue(string_value=service))] if service else []
    )
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource={"attributes": resource}, scope_logs=[ScopeLogs(log_records=records)]
            )
        ]
    )
    # The wire format round-trips, and every record becomes one item.
    decoded = otlp.decode_request(request.SerializeToString(), "application/x-protobuf", None)
    items = otlp.to_log_items(decoded, NOW)
    assert len(items) == len(records)
    for item, source in zip(items, records, strict=True):
        assert item["level"] in LEVELS
        if item["message"]:
            entry = LogInput.model_validate(item)
            assert SERVICE_NAME_PATTERN.fullmatch(entry.service_name)
        if 1 <= source.severity_number <= 24:  # the OpenTelemetry severity ranges
            expected = (
                ["DEBUG"] * 8 + ["INFO"] * 4 + ["WARN"] * 4 + ["ERROR"] * 4 + ["CRITICAL"] * 4
            )
            assert item["level"] == expected[source.severity_number - 1]
