"""The one shape of alarm this app uses: over a threshold once, to the alarm topic; and the
metrics the functions publish themselves (namespace logsService, by function)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct


def alarm(
    scope: Construct,
    construct_id: str,
    metric: cloudwatch.IMetric,
    *,
    threshold: float,
    description: str,
    topic: sns.ITopic,
) -> cloudwatch.Alarm:
    """Alarm when one period of ``metric`` reaches ``threshold``; no data is not a breach."""
    created = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    created.add_alarm_action(actions.SnsAction(topic))
    return created


def service_metric(name: str, function: str, period: cdk.Duration) -> cloudwatch.Metric:
    """A metric a function publishes (Powertools: namespace logsService, dimension
    service), its maximum over ``period``."""
    return cloudwatch.Metric(
        namespace="logsService",
        metric_name=name,
        dimensions_map={"service": function},
        period=period,
        statistic="Maximum",
    )
