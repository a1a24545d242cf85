"""Fuzzing every ingest decoder through its route (hypothesis): the JSON API, OTLP as
protobuf and JSON (gzip or not), and Cloudflare Tail items. Whatever arrives, the answer is
never a 5xx, and a request is answered well within a second."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property.strategies import json_values
from tests.support.api import Api

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
BUDGET_SECONDS = 1.0


def shaped(names: list[str]) -> st.SearchStrategy:
    """Objects whose keys are the ones a decoder reads, with any values."""
    return st.dictionaries(st.sampled_from(names), json_values, max_size=len(names))


entries = shaped(["service_name", "level", "message", "timestamp", "metadata"])
trace_items = shaped(["scriptName", "outcome", "logs", "exceptions", "event", "continuation"])
records = shaped(["body", "attributes", "traceId", "spanId", "severityNumber", "timeUnixNano"])
otlp_documents = st.fixed_dictionaries(
    {
        "resourceLogs": st.lists(
            st.fixed_dictionaries(
                {
                    "scopeLogs": st.lists(
                        st.fixed_dictionaries({"logRecords": st.lists(records, max_size=3)}),
                        max_size=2,
                    )
                }
            )
            | json_values,
            max_size=2,
        )
    }
)


def answered(api: Api, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    started = time.monotonic()
    answer = api.call("POST", path, raw_body=body, headers=headers)
    assert time.monotonic() - started < BUDGET_SECONDS
    assert answer.status < 500, (path, body[:200], answer.body)
    return answer.status


@pytest.fixture
def fuzzed(api: Api) -> Api:
    return api


@FUZZ
@given(st.lists(entries | json_values, max_size=5) | json_values)
def test_the_batch_route(fuzzed, logs):
    answered(fuzzed, "/api/v1/logs/ingest/batch", json.dumps({"logs": logs}).encode())


@FUZZ
@given(entries | json_values)
def test_the_single_route(fuzzed, entry):
    answered(fuzzed, "/api/v1/logs/ingest", json.dumps(entry).encode())


@FUZZ
@given(st.lists(trace_items | json_values, max_size=4) | json_values)
def test_the_tail_route(fuzzed, items):
    answered(fuzzed, "/api/v1/logs/tail", json.dumps(items).encode())


@FUZZ
@given(otlp_documents | json_values, st.booleans())
def test_otlp_json(fuzzed, document, compressed):
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json"}
    if compressed:
        body, headers = gzip.compress(body), {**headers, "content-encoding": "gzip"}
    answered(fuzzed, "/v1/logs", body, headers)


@FUZZ
@given(st.binary(max_size=512), st.booleans())
def test_otlp_protobuf_bytes(fuzzed, body, compressed):
    headers = {"content-type": "application/x-protobuf"}
    if compressed:
        body, headers = gzip.compress(body), {**headers, "content-encoding": "gzip"}
    answered(fuzzed, "/v1/logs", body, headers)
