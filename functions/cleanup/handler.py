"""Cleanup function (EventBridge, daily 02:00 UTC): apply every service's retention."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import agent_log, components
from logsvc.startup import settled

logger = Logger(service="logsService-cleanup")
metrics = Metrics(namespace="logsService", service="cleanup")


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = components.cleaner().run(time_left_ms=context.get_remaining_time_in_millis)
    result = summary.to_dict()
    message = (
        f"cleanup {'finished' if summary.complete else 'stopped for time, resumes next run'}"
        f": {summary.logs_deleted} logs and {summary.archive_objects_deleted} archive "
        f"objects deleted across {len(summary.services)} services"
    )
    # 1 when the run stopped for time (the CleanupIncomplete alarm watches it).
    metrics.add_metric(
        name="CleanupIncomplete", unit=MetricUnit.Count, value=0 if summary.complete else 1
    )
    agent_log.record(components.ingestor(), "cleanup", "INFO", message, result)
    logger.info(message, extra={"summary": result})
    return result


settled()  # the last line: after everything the module loaded (logsvc.startup)
