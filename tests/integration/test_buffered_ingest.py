"""Buffered ingest through SQS (moto): acknowledged at enqueue, stored by the writer with the
ids the client got, retried when storage fails, dead-lettered after too many tries."""

import json

import boto3
import pytest
from moto import mock_aws

from logsvc import runtime
from logsvc_local.events import LocalContext
from logsvc_local.project import load_handler

LOGS = [
    {"service_name": "queued", "level": "ERROR", "message": f"m{i}", "timestamp": 1000 + i}
    for i in range(30)
]


@pytest.fixture
def sqs(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        dlq = client.create_queue(QueueName="ingest-dlq")["QueueUrl"]
        dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue = client.create_queue(
            QueueName="ingest",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
                )
            },
        )["QueueUrl"]
        yield client, queue, dlq


def buffered(api, queue, monkeypatch):
    monkeypatch.setenv("INGEST_QUEUE_URL", queue)
    runtime.reset()


def receive(client, queue) -> list[dict]:
    return client.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )


def write(messages) -> dict:
    event = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "receiptHandle": m["ReceiptHandle"]}
            for m in messages
        ]
    }
    return load_handler("writer").lambda_handler(event, LocalContext("writer"))


def stored(api) -> int:
    return api.get("/api/v1/logs/stats/queued").body["total"]


def test_acknowledged_at_enqueue_then_stored_with_the_same_ids(api_any_db, sqs, monkeypatch):
    client, queue, _ = sqs
    buffered(api_any_db, queue, monkeypatch)
    response = api_any_db.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    assert response.status == 201
    ids = response.body["ids"]
    assert stored(api_any_db) == 0  # only queued so far
    messages = receive(client, queue)
    assert len(messages) == 1
    monkeypatch.delenv("INGEST_QUEUE_URL")
    runtime.reset()
    assert write(messages) == {"batchItemFailures": []}
    assert stored(api_any_db) == 30
    assert api_any_db.get(f"/api/v1/logs/logs/{ids[7]}").body["message"] == "m7"
    assert api_any_db.get(f"/api/v1/logs/logs/{ids[7]}/full").body["message"] == "m7"
    write(messages)  # redelivered: nothing twice
    assert stored(api_any_db) == 30


def test_large_batches_are_split_across_messages(api, sqs, monkeypatch):
    client, queue, _ = sqs
    buffered(api, queue, monkeypatch)
    big = [{**log, "message": "x" * 900 + str(i)} for i, log in enumerate(LOGS * 20)]
    ids = api.post("/api/v1/logs/ingest/batch", {"logs": big}).body["ids"]
    messages = receive(client, queue)
    assert len(messages) > 1
    assert all(len(m["Body"]) < 256 * 1024 for m in messages)
    monkeypatch.delenv("INGEST_QUEUE_URL")
    runtime.reset()
    write(messages)
    assert stored(api) == 600
    assert api.get(f"/api/v1/logs/logs/{ids[-1]}").body["message"].endswith("599")


def test_failed_writes_are_reported_retried_and_none_lost(api_d1, d1, sqs, monkeypatch):
    client, queue, _ = sqs
    buffered(api_d1, queue, monkeypatch)
    for start in (0, 10, 20):
        api_d1.post("/api/v1/logs/ingest/batch", {"logs": LOGS[start : start + 10]})
    messages = receive(client, queue)
    assert len(messages) == 3
    monkeypatch.delenv("INGEST_QUEUE_URL")
    runtime.reset()
    d1.fail_next(503, "D1 DB is overloaded", times=3)  # the first message's three tries
    result = write(messages)
    assert result == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert stored(api_d1) == 20
    write([messages[0]])  # SQS redelivers only the failed one
    assert stored(api_d1) == 30


def test_messages_that_keep_failing_end_in_the_dead_letter_queue(api, sqs, monkeypatch):
    client, queue, dlq = sqs
    buffered(api, queue, monkeypatch)
    api.post("/api/v1/logs/ingest/batch", {"logs": LOGS})
    for _ in range(2):  # received and never deleted (the writer failed each time)
        assert len(receive(client, queue)) == 1
    assert receive(client, queue) == []
    (dead,) = receive(client, dlq)
    assert len(json.loads(dead["Body"])["entries"]) == 30  # intact, ready to redrive
