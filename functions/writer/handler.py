"""Writer function: drain the ingest stream (Kinesis) into the archive and the index.

One invocation is one flush of a shard's batch. On failure the function raises: Lambda
retries the same records from the same sequence number, and the checkpoint written with
the blocks makes the retry skip what the failed try stored.
"""

import base64
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import components
from logsvc.buffer.kinesis import entries_of

logger = Logger(service="logsService-writer")
metrics = Metrics(namespace="logsService", service="writer")


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records", [])
    if not records:
        return {"stored": 0}
    shard = records[0]["eventID"].split(":")[0]
    batch = sorted(
        (
            int(record["kinesis"]["sequenceNumber"]),
            entries_of(base64.b64decode(record["kinesis"]["data"])),
        )
        for record in records
    )
    result = components.log_writer().flush(shard, batch)
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
