"""The archive on the S3 API (moto, in-process): the same behaviour as the local folder."""

import gzip
import json

import boto3
import pytest

from logsvc import components
from logsvc.archive.s3 import S3ObjectStore, s3_client

BUCKET = "platform-logs-archive"


@pytest.fixture
def s3(moto_aws):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client


def test_object_store_round_trip(s3):
    store = S3ObjectStore(BUCKET, "prefix")
    store.put("logs/a/2026-01-01/x.ndjson.gz", b"data", "application/x-ndjson", "gzip")
    store.put("logs/b/2026-01-02/y.ndjson.gz", b"more", "application/x-ndjson", None)
    assert store.get("logs/a/2026-01-01/x.ndjson.gz") == b"data"
    assert store.get("logs/a/missing") is None
    assert list(store.list_keys("logs/")) == [
        "logs/a/2026-01-01/x.ndjson.gz",
        "logs/b/2026-01-02/y.ndjson.gz",
    ]
    head = s3.head_object(Bucket=BUCKET, Key="prefix/logs/a/2026-01-01/x.ndjson.gz")
    assert (head["ContentType"], head["ContentEncoding"]) == ("application/x-ndjson", "gzip")
    store.delete(["logs/a/2026-01-01/x.ndjson.gz", "logs/never-there"])
    assert list(store.list_keys("logs/")) == ["logs/b/2026-01-02/y.ndjson.gz"]


def test_missing_bucket_is_an_outage_not_a_crash(s3):
    from logsvc.errors import ArchiveUnavailable

    with pytest.raises(ArchiveUnavailable):
        S3ObjectStore("no-such-bucket").put("k", b"x", "text/plain", None)


def test_r2_client_settings():
    client = s3_client("https://account.r2.cloudflarestorage.com")
    assert client.meta.region_name == "auto"
    assert client.meta.config.request_checksum_calculation == "when_required"
    assert client.meta.config.response_checksum_validation == "when_required"


def test_ingest_and_full_through_the_api_on_s3(api, s3, monkeypatch):
    monkeypatch.setenv("ARCHIVE_URL", f"s3://{BUCKET}/archive")
    components.reset()
    message = "stack trace line\n" * 400
    logs = [
        {"service_name": "svc-a", "level": "ERROR", "message": message},
        {"service_name": "svc-b", "level": "INFO", "message": "fine"},
        {"service_name": "svc-a", "level": "INFO", "message": "fine too"},
    ]
    ids = api.post("/api/v1/logs/ingest/batch", {"logs": logs}).body["ids"]
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    # Two services' few entries: one object they share (one PUT, not two).
    assert key.startswith("archive/logs/several.services/") and key.endswith(".ndjson.gz")
    full = api.get(f"/api/v1/logs/logs/{ids[0]}/full").body
    assert full["message"] == message
    assert len(api.get(f"/api/v1/logs/logs/{ids[0]}").body["message"]) == 1000
    body = s3.get_object(Bucket=BUCKET, Key=f"archive/{full['r2_key']}")["Body"].read()
    lines = [json.loads(x) for x in gzip.decompress(body).splitlines()]
    assert sorted(x["message"] for x in lines) == sorted([message, "fine", "fine too"])


def test_a_failed_local_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    import pytest

    from logsvc.archive.local import LocalObjectStore
    from logsvc.errors import ArchiveUnavailable

    store = LocalObjectStore(str(tmp_path))

    def disk_full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)  # the one failure a test cannot cause
    with pytest.raises(ArchiveUnavailable):
        store.put("logs/a/2026-11-30/x.ndjson.gz", b"data", "application/x-ndjson", "gzip")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


DAY = 86_400_000


def test_search_compaction_and_full_entries_over_the_s3_api(s3, api, monkeypatch, tmp_path):
    """The R2 deployment's path: DuckDB over objects fetched through the S3 API."""
    import time

    monkeypatch.setenv("ARCHIVE_URL", f"s3://{BUCKET}/archive")
    monkeypatch.setenv("ARCHIVE_CACHE_DIR", str(tmp_path / "cache"))
    components.reset()
    now = int(time.time() * 1000)
    logs = [
        {
            "service_name": "pay",
            "level": "ERROR",
            "message": f"declined {days}",
            "timestamp": now - days * DAY,
        }
        for days in (20, 10, 1)
    ]
    ids = api.post("/api/v1/logs/ingest/batch", {"logs": logs}).body["ids"]
    query = {"service": "pay", "start_time": now - 30 * DAY, "q": "DECLINED"}
    before = api.get("/api/v1/logs/search", **query).body
    assert [(e["message"], e["tier"]) for e in before["logs"]] == [
        ("declined 1", "index"),
        ("declined 10", "archive"),
        ("declined 20", "archive"),
    ]
    assert before["archive"]["status"] == "complete"
    summary = components.cleaner().run(lambda: 10**9)
    assert summary.compaction.days_compacted == 3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sum(k.startswith("archive/compacted/pay/") for k in keys) == 3
    assert not [k for k in keys if k.startswith("archive/logs/pay/")]
    after = api.get("/api/v1/logs/search", **query).body
    assert [e["id"] for e in after["logs"]] == [e["id"] for e in before["logs"]]
    full = api.get(f"/api/v1/logs/logs/{ids[0]}/full")
    assert full.status == 200 and full.body["message"] == "declined 20"


def test_an_unreachable_archive_leaves_the_index_part_answering(s3, api, monkeypatch):
    import time

    monkeypatch.setenv("ARCHIVE_URL", "s3://no-such-bucket")
    components.reset()
    now = int(time.time() * 1000)
    body = api.get("/api/v1/logs/search", start_time=now - 30 * DAY).body
    assert body["logs"] == []
    assert body["archive"]["status"] == "partial"
    assert body["archive"]["reason"].startswith("unavailable: ")


def test_the_fetch_cache_stays_within_its_size(s3, tmp_path):
    from logsvc.archive import LogArchive
    from logsvc.archive.duckdb_engine import ObjectFiles

    store = S3ObjectStore(BUCKET)
    for i in range(10):
        store.put(f"logs/s/2026-01-01/{i}.ndjson.gz", bytes(1000), "application/x-ndjson", None)
    files = ObjectFiles(LogArchive(store), str(tmp_path / "cache"), cache_bytes=3500)
    keys = [f"logs/s/2026-01-01/{i}.ndjson.gz" for i in range(10)]
    found = files.paths(keys)
    assert len(found) == 10  # every object was fetched...
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(cached) == 3  # ...and only the newest three stay
    assert sum(p.stat().st_size for p in cached) <= 3500


def test_every_call_says_whose_bucket_it_expects(moto_aws):
    """Bucket names are global: a bucket of the expected name in another account would take
    the archive (adopt_archive_bucket, a deleted and re-created name). Every call names
    the owner it expects (ExpectedBucketOwner), which S3 refuses with 403 when another
    account owns the bucket; moto does not check it, so the requests are read here."""
    import boto3

    from logsvc.archive.s3 import S3ObjectStore

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="owned")
    client = boto3.client("s3", region_name="us-east-1")
    seen = []
    client.meta.events.register(
        "before-send.s3",
        lambda request, **_: seen.append(request.headers.get("x-amz-expected-bucket-owner")),
    )
    store = S3ObjectStore("owned", client=client, expected_owner="123456789012")
    store.put("logs/a.ndjson.gz", b"x", "application/x-ndjson", "gzip")
    assert store.get("logs/a.ndjson.gz") == b"x"
    assert list(store.list_keys("logs/")) == ["logs/a.ndjson.gz"]
    store.delete(["logs/a.ndjson.gz"])
    owners = [value.decode() if isinstance(value, bytes) else value for value in seen]
    assert owners == ["123456789012"] * 4  # put, get, list, delete: each names the owner
