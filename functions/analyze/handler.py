"""Analyze function (EventBridge, every 6 hours): error patterns, severity, alerts."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import agent_log, components
from logsvc.startup import settled

logger = Logger(service="logsService-analyze")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    results = components.analyzer().run(time_left_ms=context.get_remaining_time_in_millis)
    summary = {
        "services_analyzed": len(results),
        "results": [
            {
                "service_name": r.service_name,
                "severity": r.severity,
                "error_count": r.patterns["error_count"],
                "anomaly": r.patterns["anomaly"],
                "alerted": r.patterns.get("alerted", False),
            }
            for r in results
        ],
    }
    message = f"analysis: {len(results)} services with 10+ errors analysed"
    if results:
        message += ": " + ", ".join(f"{r.service_name} {r.severity}" for r in results)
    agent_log.record(components.ingestor(), "analyze", "INFO", message, summary)
    logger.info(message, extra={"summary": summary})
    return summary


settled()  # the last line: after everything the module loaded (logsvc.startup)
