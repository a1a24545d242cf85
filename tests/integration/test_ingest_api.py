"""Ingest through the ingest function's handler, on a real SQLite file and archive folder."""

import gzip
import json
import time

import pytest

from logsvc.ids import id_timestamp
from logsvc.routes import ROUTES

LOG = {
    "service_name": "python-data-processor",
    "level": "ERROR",
    "message": "Database connection failed",
    "metadata": {"error_code": "DB_TIMEOUT", "retry_count": 3},
}


def archived_objects(archive_dir):
    return sorted(p for p in archive_dir.rglob("*.ndjson.gz"))


def stored_count(api) -> int:
    return sum(s["log_count"] for s in api.get("/api/v1/logs/services").body["services"])


def test_single_ingest_is_indexed_and_archived(api_any_db, archive_dir):
    before = int(time.time() * 1000)
    response = api_any_db.post("/api/v1/logs/ingest", LOG)
    assert response.status == 201
    assert response.body["success"] is True
    entry = api_any_db.get(f"/api/v1/logs/logs/{response.body['id']}").body
    assert entry["service_name"] == "python-data-processor"
    assert entry["level"] == "ERROR"
    assert entry["metadata"] == {"error_code": "DB_TIMEOUT", "retry_count": 3}
    assert entry["source_type"] == "http"
    assert before <= entry["timestamp"] <= int(time.time() * 1000)
    (path,) = archived_objects(archive_dir)
    assert path.relative_to(archive_dir).as_posix() == entry["r2_key"]
    assert entry["r2_key"].startswith("logs/python-data-processor/")
    records = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert records == [
        {**LOG, "id": entry["id"], "timestamp": entry["timestamp"], "source_type": "http"}
    ]


def test_ids_are_uuid7_carrying_the_entry_timestamp(api):
    t = int(time.time() * 1000) - 60_000
    times = (t + 3, t + 1, t + 2)
    ids = [api.post("/api/v1/logs/ingest", {**LOG, "timestamp": x}).body["id"] for x in times]
    assert all(i[14] == "7" for i in ids)
    assert [id_timestamp(i) for i in ids] == list(times)
    assert sorted(ids) == [ids[1], ids[2], ids[0]]  # ids sort by the entries' time
    assert [api.get(f"/api/v1/logs/logs/{i}").body["timestamp"] for i in ids] == list(times)


@pytest.mark.parametrize(
    ("sent", "unit", "instead"),
    [
        (1_764_115_200, "seconds", 1_764_115_200_000),
        (1_764_115_200_123_456, "microseconds", 1_764_115_200_123),
        (1_764_115_200_123_456_789, "nanoseconds", 1_764_115_200_123),
    ],
)
def test_a_time_in_another_unit_is_refused_with_the_value_to_send(api, sent, unit, instead):
    """Stored as milliseconds, seconds land in January 1970 and nanoseconds past year 9999,
    where no search looks: refused, naming the unit and what to send instead."""
    single = api.post("/api/v1/logs/ingest", {**LOG, "timestamp": sent})
    assert single.status == 400 and single.body["field"] == "timestamp"
    assert f"looks like {unit}: send {instead}" in single.body["error"]
    batch = api.post("/api/v1/logs/ingest/batch", {"logs": [LOG, {**LOG, "timestamp": sent}]})
    assert (batch.body["accepted"], batch.body["rejected"]) == (1, 1)
    (error,) = batch.body["errors"]
    assert (error["index"], error["field"]) == (1, "timestamp") and unit in error["error"]
    assert stored_count(api) == 1


OLD = int(time.time() * 1000) - 2 * 86_400_000  # two days ago: another day's object


def test_batch_stores_valid_items_and_reports_invalid_ones(api_any_db, archive_dir):
    logs = [
        {"service_name": "api-gateway", "level": "INFO", "message": "Request processed"},
        {"service_name": "api gateway", "level": "ERROR", "message": "bad name"},
        {"service_name": "api-gateway", "level": "warning", "message": "slow", "timestamp": OLD},
        "not an object",
        {"service_name": "worker", "level": "LOUD", "message": "bad level"},
        {"service_name": "worker", "level": "DEBUG", "message": "tick"},
    ]
    response = api_any_db.post("/api/v1/logs/ingest/batch", {"logs": logs})
    assert response.status == 201
    body = response.body
    assert (body["success"], body["accepted"], body["rejected"]) == (False, 3, 3)
    assert len(body["ids"]) == 3
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (1, "service_name"),
        (3, "body"),
        (4, "level"),
    ]
    assert stored_count(api_any_db) == 3
    slow = api_any_db.get(f"/api/v1/logs/logs/{body['ids'][1]}").body
    assert (slow["level"], slow["timestamp"]) == ("WARN", OLD)
    # One archive object a day (the WARN entry is of two days ago): two services share
    # today's.
    assert len(archived_objects(archive_dir)) == 2


def test_a_batch_of_1000_is_accepted_whole(api_any_db, archive_dir):
    logs = [{"service_name": "bulk", "level": "INFO", "message": f"m{i}"} for i in range(1000)]
    response = api_any_db.post("/api/v1/logs/ingest/batch", {"logs": logs})
    assert (response.status, response.body["accepted"]) == (201, 1000)
    assert api_any_db.get("/api/v1/logs/stats/bulk").body["total"] == 1000
    assert len(archived_objects(archive_dir)) == 1


def test_over_1000_items_is_413_and_nothing_is_stored(api, archive_dir):
    logs = [{"service_name": "bulk", "level": "INFO", "message": "m"}] * 1001
    response = api.post("/api/v1/logs/ingest/batch", {"logs": logs})
    assert response.status == 413
    assert response.body["field"] == "logs"
    assert stored_count(api) == 0
    assert archived_objects(archive_dir) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"logs": []}, "logs"),
        ({"logs": "x"}, "logs"),
        ({}, "logs"),
        ([], "body"),
        ({"logs": [{"service_name": "x", "level": "NOPE", "message": "m"}]}, "level"),
    ],
)
def test_batches_with_nothing_to_store_are_400(api, body, field):
    response = api.post("/api/v1/logs/ingest/batch", body)
    assert response.status == 400
    assert response.body["field"] == field
    assert response.body["success"] is False
    assert stored_count(api) == 0


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{bad json", "body"),
        (b"[1, 2]", "body"),
        (b"null", "body"),
        (b"\xff\xfe", "body"),
        (b'{"service_name": "s", "level": "INFO"}', "message"),
        (b'{"service_name": "s", "level": "INFO", "message": "m", "metadata": [1]}', "metadata"),
        (
            b'{"service_name": "s", "level": "INFO", "message": "m", "timestamp": "yesterday"}',
            "timestamp",
        ),
    ],
)
def test_bad_single_ingest_is_400_naming_the_field(api, raw, field):
    api.post("/api/v1/logs/ingest", LOG)
    response = api.call("POST", "/api/v1/logs/ingest", raw_body=raw)
    assert response.status == 400, response.body
    assert response.body["field"] == field
    assert response.body["error"].startswith(f"{field}:")
    assert stored_count(api) == 1  # what was stored before is untouched


def test_bodies_are_json_whatever_the_declared_content_type(api):
    """curl -d sends application/x-www-form-urlencoded; the original read JSON anyway."""
    response = api.call(
        "POST",
        "/api/v1/logs/ingest",
        body=LOG,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 201


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.scope], ids=lambda r: f"{r.method} {r.path}"
)
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_every_authenticated_route_refuses_a_missing_or_wrong_key(api, route, key):
    path = route.path.replace("{id}", "x").replace("{service}", "svc").replace("{name}", "n")
    response = api.call(route.method, path, raw_body=b"{bad", key=key)
    assert response.status == 401  # checked before the body is even parsed
    if path.startswith("/loki/"):  # in Loki's error shape
        assert set(response.body) == {"message"}
    else:
        assert response.body == {
            "success": False,
            "field": "Authorization",
            "error": response.body["error"],
        }
    assert response.headers["www-authenticate"] == "Bearer"


def test_archive_failure_is_503_and_nothing_is_indexed(api, archive_dir):
    archive_dir.parent.mkdir(parents=True, exist_ok=True)
    archive_dir.write_text("a file where the archive folder should be")
    response = api.post("/api/v1/logs/ingest", LOG)
    assert response.status == 503
    assert "retry" in response.body["error"]
    assert response.headers["retry-after"]
    assert stored_count(api) == 0


def test_d1_rate_limit_is_503_with_its_retry_after(api_d1, d1):
    d1.fail_next(
        429, "Too many requests", code=971, headers={"Retry-After": "120"}, when="log_blocks"
    )
    response = api_d1.post("/api/v1/logs/ingest", LOG)
    assert response.status == 503
    assert response.headers["retry-after"] == "120"


def test_one_d1_request_per_batch(api_d1, d1):
    logs = [
        {"service_name": f"s{i % 3}", "level": "INFO", "message": "x" * 900} for i in range(1000)
    ]
    api_d1.post("/api/v1/logs/ingest/batch", {"logs": logs[:3]})  # reads the quotas once
    before = len(d1.requests)
    assert api_d1.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    assert len(d1.requests) - before == 1


def test_large_metadata_is_archived_whole_and_marked_in_the_index(api):
    metadata = {"payload": "x" * 20_000, "request_id": "r-1"}
    log_id = api.post("/api/v1/logs/ingest", {**LOG, "metadata": metadata}).body["id"]
    indexed = api.get(f"/api/v1/logs/logs/{log_id}").body["metadata"]
    assert indexed["_truncated"] is True
    assert indexed["_bytes"] > 20_000
    assert api.get(f"/api/v1/logs/logs/{log_id}/full").body["metadata"] == metadata


def test_bodies_must_be_strict_json(api):
    """NaN, Infinity and lone surrogates are not JSON; refused before anything is stored."""
    for raw in (
        b'{"service_name": "s", "level": "INFO", "message": "m", "metadata": {"n": NaN}}',
        b'{"service_name": "s", "level": "INFO", "message": "m", "metadata": {"n": 1e999}}',
        b'{"service_name": "s", "level": "INFO", "message": "\\ud800"}',
        b'{"logs": [{"service_name": "s", "level": "INFO", "message": "\\udfff x"}]}',
    ):
        path = "/api/v1/logs/ingest/batch" if raw.startswith(b'{"logs"') else "/api/v1/logs/ingest"
        response = api.call("POST", path, raw_body=raw)
        assert (response.status, response.body["field"]) == (400, "body"), raw
    assert stored_count(api) == 0


def test_integers_beyond_64_bits_are_kept_as_numbers(api):
    raw = b'{"service_name": "s", "level": "INFO", "message": "m", "metadata": {"n": 1%s}}' % (
        b"0" * 30
    )
    response = api.call("POST", "/api/v1/logs/ingest", raw_body=raw)
    assert response.status == 201
    assert api.get(f"/api/v1/logs/logs/{response.body['id']}").body["metadata"] == {"n": 1e30}


def test_ingest_publishes_stored_and_rejected_counts_as_cloudwatch_metrics(api, capsys):
    logs = [LOG, LOG, {**LOG, "level": "LOUD"}]
    assert api.post("/api/v1/logs/ingest/batch", {"logs": logs}).status == 201
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (metrics,) = emf  # no buffer: this function stored them
    assert (metrics["LogsStored"], metrics["LogsRejected"]) == ([2.0], [1.0])
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "logsService"
    # Nothing refused: one line still, the count of what it stored.
    assert api.post("/api/v1/logs/ingest", LOG).status == 201
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert "LogsRejected" not in line and line["LogsStored"] == [1.0]
