"""Writer function: drain the ingest stream (Kinesis) into the archive and the index.

One invocation is one flush of a shard's batch. On failure the function raises: Lambda
retries the same records from the same sequence number, and the checkpoint written with
the blocks makes the retry skip what the failed try stored.
"""

import base64
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import components
from logsvc.buffer.kinesis import entries_of

logger = Logger(service="logsService-writer")


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
    return {"stored": result.stored, "skipped": result.skipped}
