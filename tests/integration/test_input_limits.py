"""Documented input limits: each refused with 400 naming the field, nothing stored."""

from __future__ import annotations

import time

import pytest

from logsvc import components
from logsvc.entries import MAX_MESSAGE_CHARS, MAX_METADATA_BYTES, MAX_METADATA_DEPTH
from tests.support.api import Api


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def base(**changes) -> dict:
    return {"service_name": "svc", "level": "INFO", "message": "m", **changes}


BAD = [
    (base(message="x" * (MAX_MESSAGE_CHARS + 1)), "message"),
    (base(metadata=nested(MAX_METADATA_DEPTH + 1)), "metadata"),
    (base(metadata={"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}), "metadata"),
    (base(metadata={"blob": "x" * MAX_METADATA_BYTES}), "metadata"),
    (base(timestamp=int(time.time() * 1000) + 2 * 86_400_000), "timestamp"),
    (base(timestamp=int(time.time() * 1_000_000)), "timestamp"),  # microseconds by mistake
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f for _, f in BAD])
def test_over_the_limits_is_refused_naming_the_field(api: Api, body: dict, field: str):
    answer = api.post("/api/v1/logs/ingest", body)
    assert answer.status == 400, answer.body
    assert answer.body["field"] == field
    assert answer.body["success"] is False
    batch = api.post("/api/v1/logs/ingest/batch", {"logs": [base(), body]})
    assert batch.status == 201
    assert [(e["index"], e["field"]) for e in batch.body["errors"]] == [(1, field)]
    rows = components.database().query("SELECT SUM(entry_count) AS n FROM log_blocks")
    assert rows[0]["n"] == 1


def test_at_the_limits_is_accepted(api: Api):
    body = base(
        message="x" * MAX_MESSAGE_CHARS,
        metadata=nested(MAX_METADATA_DEPTH),
        timestamp=int(time.time() * 1000) + 86_400_000 - 60_000,
    )
    answer = api.post("/api/v1/logs/ingest", body)
    assert answer.status == 201, answer.body
    full = api.get(f"/api/v1/logs/logs/{answer.body['id']}/full").body
    assert len(full["message"]) == MAX_MESSAGE_CHARS


def test_old_timestamps_are_kept_as_sent(api: Api):
    """Backfills are allowed (from 2001 on: before that, a time is in seconds); retention
    removes them at the next cleanup if past their TTL."""
    old = 1_000_000_000_000  # September 2001
    answer = api.post("/api/v1/logs/ingest", base(timestamp=old))
    assert answer.status == 201
    assert api.get(f"/api/v1/logs/logs/{answer.body['id']}").body["timestamp"] == old


def test_nul_bytes_and_invalid_utf8(api: Api):
    answer = api.post("/api/v1/logs/ingest", base(message="a\x00b"))
    assert answer.status == 201
    assert api.get(f"/api/v1/logs/logs/{answer.body['id']}").body["message"] == "a\ufffdb"
    raw = b'{"service_name": "svc", "level": "INFO", "message": "\xff\xfe"}'
    bad = api.call("POST", "/api/v1/logs/ingest", raw_body=raw)
    assert bad.status == 400
    assert bad.body["field"] == "body"
