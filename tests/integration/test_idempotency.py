"""Idempotency-Key: a retried request stores nothing twice, on SQLite and on D1."""

import time

import pytest

T0 = int(time.time() * 1000) - 60_000  # a minute ago
LOGS = [
    {"service_name": "orders", "level": level, "message": f"m{i}", "timestamp": T0 + i}
    for i, level in enumerate(["INFO", "ERROR", "INFO", "WARN"])
]


def post(api, path, body, key):
    return api.call("POST", path, body=body, headers={"Idempotency-Key": key})


def total(api) -> int:
    return api.get("/api/v1/logs/stats/orders").body["total"]


def test_a_retried_batch_is_stored_once_with_the_same_ids(api_any_db, archive_dir):
    first = post(api_any_db, "/api/v1/logs/ingest/batch", {"logs": LOGS}, "req-1")
    again = post(api_any_db, "/api/v1/logs/ingest/batch", {"logs": LOGS}, "req-1")
    assert (first.status, again.status) == (201, 201)
    assert again.body["ids"] == first.body["ids"]
    assert total(api_any_db) == 4
    assert len(list(archive_dir.rglob("*.ndjson.gz"))) == 1  # rewritten, not added
    other = post(api_any_db, "/api/v1/logs/ingest/batch", {"logs": LOGS}, "req-2")
    assert set(other.body["ids"]).isdisjoint(first.body["ids"])
    assert total(api_any_db) == 8


def test_a_single_entry_retry_too(api):
    body = LOGS[0]
    ids = {post(api, "/api/v1/logs/ingest", body, "one").body["id"] for _ in range(3)}
    assert len(ids) == 1
    assert total(api) == 1
    (log_id,) = ids
    assert api.get(f"/api/v1/logs/logs/{log_id}").body["message"] == "m0"


def test_a_crash_between_archive_and_index_then_a_retry(api_d1, d1, archive_dir):
    post(api_d1, "/api/v1/logs/ingest/batch", {"logs": LOGS[:1]}, "warm-up")  # reads quotas
    # every try of the index write (a new block, or an append to the open one)
    d1.fail_next(500, "Network connection lost", times=3, when="INTO log_blocks")
    failed = post(api_d1, "/api/v1/logs/ingest/batch", {"logs": LOGS}, "crash-1")
    assert failed.status == 503
    assert len(list(archive_dir.rglob("*.ndjson.gz"))) == 2  # archived, not indexed
    assert total(api_d1) == 1
    retried = post(api_d1, "/api/v1/logs/ingest/batch", {"logs": LOGS}, "crash-1")
    assert retried.status == 201
    assert total(api_d1) == 5  # nothing missing, nothing twice
    assert len(list(archive_dir.rglob("*.ndjson.gz"))) == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "semi;colon"])
def test_malformed_keys_are_400(api, key):
    response = post(api, "/api/v1/logs/ingest/batch", {"logs": LOGS}, key)
    assert response.status == 400
    assert response.body["field"].lower() == "idempotency-key"
    assert total(api) == 0


AT = int(time.time() * 1000) - 60_000


def test_keys_of_different_callers_never_meet(api, archive_dir):
    made = {}
    for service in ("a", "b"):
        answer = api.post(
            "/api/v1/admin/keys",
            {"name": service, "scopes": ["ingest", "read"], "services": [service]},
        )
        made[service] = answer.body["key"]
    as_b = api.call(
        "POST",
        "/api/v1/logs/ingest/batch",
        # The same millisecond as a's: ids derive from the time, the key and the caller.
        body={
            "logs": [{"service_name": "b", "level": "INFO", "message": "from b", "timestamp": AT}]
        },
        key=made["b"],
        headers={"Idempotency-Key": "X"},
    )
    as_a = api.call(
        "POST",
        "/api/v1/logs/ingest/batch",
        body={
            "logs": [
                {"service_name": "a", "level": "INFO", "message": f"a{i}", "timestamp": AT}
                for i in range(2)
            ]
        },
        key=made["a"],
        headers={"Idempotency-Key": "X"},
    )
    assert (as_b.status, as_a.status) == (201, 201)
    assert len(as_a.body["ids"]) == 2 and set(as_a.body["ids"]).isdisjoint(as_b.body["ids"])
    for log_id, message in zip(as_a.body["ids"], ("a0", "a1"), strict=True):
        assert api.get(f"/api/v1/logs/logs/{log_id}").body["message"] == message
        assert api.get(f"/api/v1/logs/logs/{log_id}/full").body["message"] == message
    changed = api.call(
        "POST",
        "/api/v1/logs/ingest/batch",
        body={"logs": [{"service_name": "a", "level": "INFO", "message": "other"}]},
        key=made["a"],
        headers={"Idempotency-Key": "X"},
    )
    assert changed.status == 409
    assert changed.body["field"] == "Idempotency-Key"
