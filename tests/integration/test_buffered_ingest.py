"""Buffered ingest: acknowledged once the buffer holds an entry, stored by the writer with the
ids the client got, in one index request per flush; nothing lost or stored twice through
crashes, retries, outages and poison entries. The local buffer file on every index backend;
the Kinesis buffer and the writer function through moto."""

import base64
import json
import time

import boto3
import pytest

from logsvc import components
from logsvc.buffer.local import LocalBuffer
from logsvc.entries import LogEntry
from logsvc.ids import entry_id
from logsvc.store.blocks import MAX_BLOCK_SPAN_MS
from logsvc.writer import Writer
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler
from logsvc_local.writer_loop import WriterLoop
from tests.support.kinesis import kinesis_event as stream_event

T0 = int(time.time() * 1000) - 60_000  # a minute ago: inside every hot window
LOGS = [
    {"service_name": "queued", "level": "ERROR", "message": f"m{i}", "timestamp": T0 + i}
    for i in range(30)
]


def count(api) -> int:
    rows = components.database().query("SELECT sum(entry_count) AS n FROM log_blocks")
    return rows[0]["n"] or 0


@pytest.fixture
def buffered(api_any_db, tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_BUFFER", (tmp_path / "buffer.db").as_uri())
    components.reset()
    yield api_any_db
    components.reset()


def drain() -> int:
    buffer = components.ingest_buffer()
    assert isinstance(buffer, LocalBuffer)
    loop = WriterLoop(buffer, components.log_writer(), batch_entries=10_000, flush_seconds=0)
    stored = 0
    while buffer.stats()["pending"]:
        stored += loop.flush_once()
    return stored


def test_acknowledged_when_buffered_then_stored_with_the_same_ids(buffered):
    answer = buffered.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    single = buffered.post("/api/v1/logs/ingest", {**LOGS[0], "message": "single"})
    assert (answer.status, single.status) == (201, 201)
    assert count(buffered) == 0  # acknowledged, not yet indexed
    assert components.ingest_buffer().stats()["pending"] == 31
    assert drain() == 31
    assert count(buffered) == 31
    for log_id in [*answer.body["ids"], single.body["id"]]:
        found = buffered.get(f"/api/v1/logs/logs/{log_id}")
        assert found.status == 200, log_id
        full = buffered.get(f"/api/v1/logs/logs/{log_id}/full")
        assert full.body["id"] == log_id


def test_many_requests_become_one_index_request_and_one_archive_object(
    api_d1, d1, tmp_path, monkeypatch, archive_dir
):
    monkeypatch.setenv("INGEST_BUFFER", (tmp_path / "buffer.db").as_uri())
    components.reset()
    for i in range(40):
        service = "a" if i % 2 else "b"
        api_d1.post(
            "/api/v1/logs/ingest", {"service_name": service, "level": "INFO", "message": f"{i}"}
        )
    before = len(d1.requests)
    assert drain() == 40
    writes = [r for r in d1.requests[before:] if "log_blocks" in json.dumps(r)]
    assert len(writes) == 1
    assert len(list(archive_dir.rglob("*.ndjson.gz"))) == 1  # the two services share it
    rows = components.database().query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    assert rows <= 4  # one block per service (and time bucket), not one per request


def test_a_flush_writes_one_block_per_service_within_a_bounded_span(buffered):
    """Levels share a block (each counted), late entries join it, and no block spans more
    than MAX_BLOCK_SPAN_MS: a backfill of six hours is cut into three."""
    levels = ["DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"]
    start = (T0 // 7_200_000 - 4) * 7_200_000  # eight hours back, on a two-hour mark
    hours = [
        {"service_name": "backfill", "level": levels[i % 5], "message": "m", "timestamp": t}
        for i, t in enumerate(range(start, start + 6 * 3_600_000, 60_000))
    ]
    buffered.post("/api/v1/logs/ingest/batch", {"logs": hours})
    drain()
    blocks = components.database().query(
        "SELECT first_ts, last_ts, entry_count, debug_count, error_count, level "
        "FROM log_blocks ORDER BY first_ts"
    )
    assert len(blocks) == 3
    assert all(b["last_ts"] - b["first_ts"] <= MAX_BLOCK_SPAN_MS for b in blocks)
    assert sum(b["entry_count"] for b in blocks) == 360
    assert sum(b["debug_count"] for b in blocks) == sum(b["error_count"] for b in blocks) == 72
    assert {b["level"] for b in blocks} == {"MIXED"}


def test_an_idempotent_retry_gets_the_same_ids_and_stores_nothing_twice(buffered):
    first = buffered.post(
        "/api/v1/logs/ingest/batch", {"logs": LOGS}, headers={"Idempotency-Key": "k1"}
    )
    drain()
    again = buffered.post(
        "/api/v1/logs/ingest/batch", {"logs": LOGS}, headers={"Idempotency-Key": "k1"}
    )
    assert again.body["ids"] == first.body["ids"]
    drain()
    assert count(buffered) == 30
    other = buffered.post(
        "/api/v1/logs/ingest/batch",
        {"logs": LOGS[:2]},
        headers={"Idempotency-Key": "k1"},
    )
    assert other.status == 409
    assert other.body["field"] == "Idempotency-Key"


def test_a_crash_after_indexing_before_forgetting_stores_nothing_twice(buffered):
    buffered.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    buffer = components.ingest_buffer()
    records = buffer.read(0, 100)
    # The flush reached the index, then the process died before deleting from the buffer.
    components.log_writer().flush(buffer.stream, [(p, [e]) for p, e in records])
    fresh = Writer(components.log_archive(), components.log_index(), buffer.dead_letter)
    result = fresh.flush(buffer.stream, [(p, [e]) for p, e in buffer.read(0, 100)])
    assert (result.stored, result.skipped) == (0, 30)
    assert count(buffered) == 30


def test_a_d1_outage_loses_and_refuses_nothing(api_d1, d1, tmp_path, monkeypatch):
    monkeypatch.setenv("INGEST_BUFFER", (tmp_path / "buffer.db").as_uri())
    components.reset()
    d1.fail_next(503, "D1 is overloaded", times=100)
    answers = [api_d1.post("/api/v1/logs/ingest", LOGS[i]) for i in range(5)]
    assert [a.status for a in answers] == [201] * 5  # ingest needs no D1 request
    loop = WriterLoop(components.ingest_buffer(), components.log_writer(), 10_000, 0)
    with pytest.raises(Exception, match="D1"):
        loop.flush_once()
    assert components.ingest_buffer().stats()["pending"] == 5
    d1._failures.clear()
    assert loop.flush_once() == 5
    assert count(api_d1) == 5


def test_an_archive_outage_loses_and_refuses_nothing(buffered, archive_dir):
    archive_dir.parent.mkdir(parents=True, exist_ok=True)
    archive_dir.rename(archive_dir.with_name("moved")) if archive_dir.exists() else None
    archive_dir.write_text("a file where the archive folder should be")
    answers = [buffered.post("/api/v1/logs/ingest", LOGS[i]) for i in range(3)]
    assert [a.status for a in answers] == [201] * 3
    loop = WriterLoop(components.ingest_buffer(), components.log_writer(), 10_000, 0)
    with pytest.raises(Exception, match="rchive"):
        loop.flush_once()
    archive_dir.unlink()
    assert loop.flush_once() == 3
    assert count(buffered) == 3


def test_a_poison_block_is_set_aside_and_the_rest_stored(buffered, monkeypatch):
    from logsvc.store import open_blocks
    from logsvc.store.log_index import LogIndex

    buffered.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    buffered.post("/api/v1/logs/ingest", {**LOGS[0], "service_name": "poison"})
    real = LogIndex.block_statement

    # No real entry can make the index refuse a block any more (ingest checks every limit),
    # so the refusal is simulated at the statement: the one part not run for real here.
    def refuse_poison(block, keys):
        statement = real(block, keys)
        if block.service_name == "poison":
            return statement.__class__("INSERT INTO no_such_table VALUES (?)", (1,))
        return statement

    monkeypatch.setattr(LogIndex, "block_statement", staticmethod(refuse_poison))
    # The writer's index makes its statements where blocks take later flushes' entries too.
    monkeypatch.setattr(open_blocks, "block_statement", lambda b, k, **kw: refuse_poison(b, k))
    drain()
    assert count(buffered) == 30
    dead = components.ingest_buffer().dead_letters()
    assert [d["entry"]["service_name"] for d in dead] == ["poison"]
    assert components.ingest_buffer().stats()["pending"] == 0


def test_quotas_stay_exact_without_a_d1_request(api_d1, d1, tmp_path, monkeypatch):
    api_d1.put("/api/v1/logs/config/capped", {"max_logs_per_day": 5})
    monkeypatch.setenv("INGEST_BUFFER", (tmp_path / "buffer.db").as_uri())
    components.reset()
    log = {"service_name": "capped", "level": "INFO", "message": "m"}
    api_d1.post("/api/v1/logs/ingest", log)  # reads the limits once
    before = len(d1.requests)
    statuses = [api_d1.post("/api/v1/logs/ingest", log).status for _ in range(6)]
    assert statuses == [201] * 4 + [429] * 2
    assert len(d1.requests) == before


# The AWS buffer: Kinesis (moto) and the writer function.


@pytest.fixture
def kinesis(api_d1, d1, moto_aws, monkeypatch):
    client = boto3.client("kinesis", region_name="us-east-1")
    client.create_stream(StreamName="ingest", ShardCount=1)
    dynamo = boto3.client("dynamodb", region_name="us-east-1")
    dynamo.create_table(
        TableName="coordination",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("INGEST_BUFFER", "kinesis://ingest")
    monkeypatch.setenv("COORDINATION_TABLE", "coordination")
    components.reset()
    yield client


def kinesis_event(client) -> dict:
    """The event Lambda's Kinesis event source sends: the shard's records so far."""
    return stream_event(client, "ingest")


def write(event) -> dict:
    return load_handler("writer").lambda_handler(event, LocalContext("writer"))


def test_kinesis_buffer_and_writer_function(kinesis, api_d1, d1):
    batch = api_d1.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    singles = [
        api_d1.post("/api/v1/logs/ingest", {**LOGS[0], "message": f"s{i}"}) for i in range(5)
    ]
    assert count(api_d1) == 0
    event = kinesis_event(kinesis)
    assert len(event["Records"]) == 6  # one record per request
    before = len(d1.requests)
    assert write(event) == {"stored": 35, "skipped": 0}
    # The checkpoint and the sample rates (each read once while warm, the rates again every
    # 30 s), then one write.
    assert len(d1.requests) - before == 3
    assert "sample_rate" in d1.requests[before + 1]["sql"]
    ids = [*batch.body["ids"], *(s.body["id"] for s in singles)]
    for log_id in ids:
        assert api_d1.get(f"/api/v1/logs/logs/{log_id}").status == 200
    # Lambda retries the same records after a failure the function did not see end.
    components.reset()
    assert write(event) == {"stored": 0, "skipped": 35}
    assert count(api_d1) == 35


def test_a_buffered_request_logs_nothing_and_the_writer_counts_a_flush(kinesis, api_d1, capsys):
    """The service's own log lines are billed per request (docs/COST.md): an accepted
    request writes none; the writer publishes what it stored, once a flush."""
    capsys.readouterr()
    for i in range(3):
        assert api_d1.post("/api/v1/logs/ingest", {**LOGS[0], "message": f"s{i}"}).status == 201
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""
    refused = api_d1.post("/api/v1/logs/ingest/batch", {"logs": [LOGS[0], {"level": "INFO"}]})
    assert refused.status == 201
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert line["LogsRejected"] == [1.0] and "LogsStored" not in line  # the writer's to say
    write(kinesis_event(kinesis))
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert [m["LogsStored"] for m in emf if "LogsStored" in m] == [[4.0]]


def test_kinesis_idempotency_receipts_are_shared(kinesis, api_d1):
    first = api_d1.post(
        "/api/v1/logs/ingest/batch", {"logs": LOGS}, headers={"Idempotency-Key": "x"}
    )
    components.reset()  # another instance
    again = api_d1.post(
        "/api/v1/logs/ingest/batch", {"logs": LOGS}, headers={"Idempotency-Key": "x"}
    )
    assert again.body["ids"] == first.body["ids"]
    assert len(kinesis_event(kinesis)["Records"]) == 1
    changed = api_d1.post(
        "/api/v1/logs/ingest/batch", {"logs": LOGS[:3]}, headers={"Idempotency-Key": "x"}
    )
    assert changed.status == 409


def test_the_shared_budget_refuses_reads_before_writes(kinesis, monkeypatch):
    from logsvc.coordination import CoordinationTable
    from logsvc.errors import DatabaseUnavailable

    table = CoordinationTable("coordination", clock=lambda: 600.0)
    limit = 60  # per 5 minutes: 10 per one-minute window, reads 8
    for _ in range(8):
        table.take_d1_request(limit, 0.8)
    with pytest.raises(DatabaseUnavailable) as refused:
        table.take_d1_request(limit, 0.8)
    assert refused.value.retry_after == 61
    table.take_d1_request(limit, 1.0)
    table.take_d1_request(limit, 1.0)
    with pytest.raises(DatabaseUnavailable):
        table.take_d1_request(limit, 1.0)


def test_the_writer_function_sets_refused_entries_aside_in_its_queue(kinesis):
    from logsvc.buffer.kinesis import DeadLetterQueue
    from logsvc.entries import LogEntry

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="writer-dead-letters")["QueueUrl"]
    entries = [(p, LogEntry(f"id-{p}", "svc", "INFO", f"m{p}", p)) for p in range(12)]
    DeadLetterQueue(url).dead_letter(entries, "index refused the block")
    received = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        received += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(int(r["position"]) for r in received) == list(range(12))
    assert {r["reason"] for r in received} == {"index refused the block"}
    assert received[0]["entry"]["service_name"] == "svc"


def given_up(event: dict, shard: str = "shardId-000000000000") -> bytes:
    """What Lambda writes to an S3 on-failure destination for a Kinesis batch it gives up on:
    its invocation record, with the event the function was invoked with as ``payload``."""
    first, last = event["Records"][0], event["Records"][-1]
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c9b8fa9f-5a7f-4e2b-9c5f-0c1c3c0a7c11",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:writer",
                "condition": "RecordAgeExceeded",
                "approximateInvokeCount": 1000,
            },
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2026-12-07T01:00:00.000Z",
            "KinesisBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first["kinesis"]["sequenceNumber"],
                "endSequenceNumber": last["kinesis"]["sequenceNumber"],
                "batchSize": len(event["Records"]),
                "streamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/ingest",
            },
            "payload": json.dumps(event),
        }
    ).encode()


def test_a_batch_given_up_on_is_redriven_whole_and_only_once(kinesis, api_d1):
    """The writer gave up (an outage longer than the record age): Lambda wrote the batch to
    the failed-batches bucket; `logsvc redrive`'s code stores it, and a redrive run again
    (it failed before deleting) stores nothing twice."""
    from logsvc.archive import open_object_store
    from logsvc.buffer.redrive import redrive

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="failed-batches")
    batch = api_d1.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    key = "aws/lambda/4e1f/shardId-000000000000/2026/12/07/2026-12-07T01.00.00-9a8b"
    s3.put_object(Bucket="failed-batches", Key=key, Body=given_up(kinesis_event(kinesis)))
    s3.put_object(Bucket="failed-batches", Key="aws/lambda/4e1f/x/garbage", Body=b"not json")
    failed = open_object_store("s3://failed-batches")
    writer = components.log_writer()
    # The service has an open block in this writer (logsvc.store.open_blocks): a redrive
    # must not append to it, or running it again would store the entries twice.
    writer.store([LogEntry(entry_id(1500), "queued", "INFO", "newer", 1500)])
    summary = redrive(failed, writer.redrive)
    assert (summary.batches, summary.entries) == (1, 30)
    assert summary.unreadable == ["aws/lambda/4e1f/x/garbage"]  # left for someone to look at
    for log_id in batch.body["ids"]:
        assert api_d1.get(f"/api/v1/logs/logs/{log_id}").status == 200
    assert key not in list(failed.list_keys(""))
    # Redriven again (as after a crash before the delete): nothing is stored twice.
    s3.put_object(Bucket="failed-batches", Key=key, Body=given_up(kinesis_event(kinesis)))
    again = redrive(failed, writer.redrive)
    assert again.entries == 30
    assert count(api_d1) == 31


def test_an_unreadable_record_is_set_aside_whole_and_the_rest_stored(kinesis, api_d1, monkeypatch):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="failed-batches")
    monkeypatch.setenv("FAILED_BATCHES_URL", "s3://failed-batches")
    components.reset()
    api_d1.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    event = kinesis_event(kinesis)
    bad = {
        "eventID": "shardId-000000000000:1",
        "kinesis": {"sequenceNumber": "1", "data": base64.b64encode(b"{not json").decode()},
    }
    assert write({"Records": [bad, *event["Records"]]}) == {"stored": 30, "skipped": 0}
    (kept,) = s3.list_objects_v2(Bucket="failed-batches")["Contents"]
    assert kept["Key"] == "unreadable/1.json"
    body = json.loads(s3.get_object(Bucket="failed-batches", Key=kept["Key"])["Body"].read())
    assert body["record"] == bad


def test_the_writer_waits_out_the_stores_retry_after_within_its_time(monkeypatch):
    """D1 locks a token out for minutes: the writer sleeps what it was told (within its
    time) before failing, so Lambda's retries are spaced and the record age, not the retry
    count, decides when to give up."""
    from logsvc.errors import DatabaseUnavailable

    handler = load_handler("writer")
    slept = []
    monkeypatch.setattr(handler.time, "sleep", slept.append)

    class Context:
        def __init__(self, left_ms):
            self.left_ms = left_ms

        def get_remaining_time_in_millis(self):
            return self.left_ms

    handler.wait_before_retrying(
        DatabaseUnavailable("D1 rate limit", retry_after=40), Context(60_000)
    )
    handler.wait_before_retrying(
        DatabaseUnavailable("D1 rate limit", retry_after=300), Context(60_000)
    )
    handler.wait_before_retrying(DatabaseUnavailable("D1 down"), Context(60_000))
    assert slept == [40, 55.0]


def test_records_a_shard_refused_are_sent_again_after_a_jittered_wait(monkeypatch):
    """A shard over its write limit refuses some records of a PutRecords call: they are
    sent again, after a wait (there was none). moto's Kinesis never refuses records, so
    a stand-in client answers as Kinesis does when throttled (ProvisionedThroughput...)."""
    from logsvc.buffer import kinesis as buffer

    class Throttling:
        def __init__(self):
            self.calls = []

        def put_records(self, StreamName, Records):
            self.calls.append(len(Records))
            refused = len(self.calls) < 3
            return {
                "FailedRecordCount": len(Records) if refused else 0,
                "Records": [
                    {"ErrorCode": "ProvisionedThroughputExceededException"} if refused else {}
                    for _ in Records
                ],
            }

    waits = []
    monkeypatch.setattr(buffer.time, "sleep", waits.append)
    client = Throttling()
    entry = LogEntry(entry_id(1000), "svc", "INFO", "m", 1000)
    buffer.KinesisBuffer("ingest", client=client).append([entry])
    assert client.calls == [1, 1, 1]
    assert len(waits) == 2 and 0 <= waits[0] <= 0.1 and 0 <= waits[1] <= 0.2
