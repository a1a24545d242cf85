"""Writer function (buffered ingest): store the entries the ingest function queued in SQS."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import runtime
from logsvc.errors import StoreUnavailable
from logsvc.ingest_queue import entries_from_message

logger = Logger(service="logsService-writer")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Report the messages that could not be stored; SQS redelivers only those, and after
    too many tries moves them to the dead-letter queue. A redelivered message gets the same
    ids (they derive from its key), so it is never stored twice."""
    failures = []
    for record in event.get("Records", []):
        try:
            key, entries = entries_from_message(record["body"])
            runtime.writer().store(entries, idempotency_key=key)
        except StoreUnavailable as exc:
            logger.warning(
                "storage unavailable; message will be retried",
                extra={"message_id": record["messageId"], "reason": str(exc)},
            )
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
