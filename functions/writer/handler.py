"""Writer function: drain the ingest stream (Kinesis) into the archive and the index.

One invocation is one flush of a shard's batch. On failure the function raises: Lambda
retries the same records from the same sequence number, and the checkpoint written with
the blocks makes the retry skip what the failed try stored. When D1 or the archive says
when to come back (D1's lockout: minutes), the function waits for that first, within its
time, so retries are spaced and an outage of days is waited out, not given up on
(stacks/ingest_buffer.py). A record that cannot be read is set aside whole in the
failed-batches bucket.
"""

import base64
import time
from typing import Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import components
from logsvc.buffer.kinesis import entries_of
from logsvc.buffer.redrive import UNREADABLE_PREFIX
from logsvc.entries import LogEntry
from logsvc.errors import StoreUnavailable
from logsvc.startup import settled

RESERVE_SECONDS = 5  # of the function's time, kept to raise and report

logger = Logger(service="logsService-writer")
metrics = Metrics(namespace="logsService", service="writer")


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    if not records:
        return {"stored": 0}
    shard = records[0]["eventID"].split(":")[0]
    batch = sorted(readable(records))
    try:
        result = components.log_writer().flush(shard, batch)
    except StoreUnavailable as exc:
        wait_before_retrying(exc, context)
        raise
    metrics.add_metric(name="LogsStored", unit=MetricUnit.Count, value=result.stored)
    logger.info(
        "flushed",
        extra={
            "stored": result.stored,
            "skipped": result.skipped,
            "dead_letters": result.dead_letters,
        },
    )
    # The fullest index database against its budget (the IndexFull alarm watches it): D1
    # said its size in the flush's answer, so this costs no request.
    fills = [c["fill"] for c in components.log_writer().logs.capacity() if c["fill"] is not None]
    if fills:
        metrics.add_metric(name="IndexFillPercent", unit=MetricUnit.Percent, value=max(fills) * 100)
    return {"stored": result.stored, "skipped": result.skipped}


def readable(records: list[dict[str, Any]]) -> list[tuple[int, list[LogEntry]]]:
    """(sequence number, entries) of each record; one that cannot be read is set aside
    whole in the failed-batches bucket (retrying it could never help)."""
    batch = []
    for record in records:
        position = int(record["kinesis"]["sequenceNumber"])
        try:
            batch.append((position, entries_of(base64.b64decode(record["kinesis"]["data"]))))
        except (ValueError, TypeError, KeyError) as exc:
            logger.error("unreadable ingest record", extra={"position": position})
            failed = components.failed_batches()
            if failed is not None:  # kept whole, beside the batches given up on
                failed.put(
                    f"{UNREADABLE_PREFIX}{position}.json",
                    orjson.dumps({"reason": str(exc)[:2000], "record": record}),
                    "application/json",
                    None,
                )
    return batch


def wait_before_retrying(exc: StoreUnavailable, context: LambdaContext) -> None:
    """Sleep through the wait the store asked for, leaving time to fail cleanly."""
    if exc.retry_after:
        spare = context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS
        time.sleep(max(0.0, min(exc.retry_after, spare)))


settled()  # the last line: after everything the module loaded (logsvc.startup)
