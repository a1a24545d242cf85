"""One stack per function: its code, layers, role, log group, alarms and schedule.

Changing functions/<name> changes only that function's stack, so `cdk deploy
Logsvc-<Name>` ships it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from logsvc.schedules import SCHEDULES, eventbridge_expression
from stacks.core_stack import CoreStack
from stacks.ingest_buffer import IngestBuffer
from stacks.layers import ARCHITECTURE, ROOT, RUNTIME, core_layer, dependencies_layer
from stacks.settings import DeploymentSettings
from stacks.stream_api import MANAGE_REASON, StreamApi, manage_connections_arn


@dataclass(frozen=True)
class FunctionSpec:
    """How a function is sized, what it may touch, and when it runs on its own."""

    memory_mb: int = 256
    timeout_s: int = 15
    archive_actions: tuple[str, ...] = ()
    reads_api_key: bool = True
    lists_archive: bool = False
    sends_alerts: bool = False  # the alert topic, webhook secret and optional model
    serves_live_tail: bool = False  # owns the live-tail WebSocket API
    publishes_live_tail: bool = False  # posts new entries to live-tail connections
    drains_ingest_buffer: bool = False  # the writer of buffered ingest
    appends_to_buffer: bool = False  # buffers entries (and keeps Idempotency-Key receipts)
    schedule: str | None = None  # an EventBridge schedule expression


FUNCTION_SPECS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec(
        memory_mb=512,
        timeout_s=30,
        archive_actions=("s3:PutObject",),
        publishes_live_tail=True,
        appends_to_buffer=True,
    ),
    "stream": FunctionSpec(timeout_s=10, serves_live_tail=True),
    # Buffered ingest (the default; context buffered_ingest=false turns it off): stores what
    # ingest buffered, in flushes.
    "writer": FunctionSpec(
        memory_mb=512,
        timeout_s=60,
        reads_api_key=False,
        archive_actions=("s3:PutObject",),
        publishes_live_tail=True,
        drains_ingest_buffer=True,
    ),
    "search": FunctionSpec(memory_mb=512, timeout_s=30, archive_actions=("s3:GetObject",)),
    "config": FunctionSpec(),
    "health": FunctionSpec(reads_api_key=False),
    # The maintenance jobs; their stacks appear with functions/cleanup and functions/analyze.
    "cleanup": FunctionSpec(
        memory_mb=512,
        timeout_s=900,
        reads_api_key=False,
        # PutObject: each run records its summary as the service's own log entry.
        archive_actions=("s3:DeleteObject", "s3:PutObject"),
        lists_archive=True,
        schedule=eventbridge_expression(SCHEDULES["cleanup"]),
    ),
    "analyze": FunctionSpec(
        memory_mb=1024,
        timeout_s=900,
        reads_api_key=False,
        archive_actions=("s3:PutObject",),
        sends_alerts=True,
        schedule=eventbridge_expression(SCHEDULES["analyze"]),
    ),
}

XRAY_REASON = "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource ARN."
ARCHIVE_REASON = "Archive objects are named per request under logs/; nothing else is granted."


class FunctionStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        spec: FunctionSpec,
        core: CoreStack,
        settings: DeploymentSettings,
        live_tail: StreamApi | None = None,
        ingest_buffer: IngestBuffer | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        log_group = logs.LogGroup(
            self,
            "Logs",
            retention=settings.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"logsvc {name} function",
        )
        for statement in self._statements(spec, core, log_group, settings):
            role.add_to_policy(statement)
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=XRAY_REASON
            )
        )
        if spec.archive_actions and core.bucket is not None:
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    # The finding names the resource as cdk-nag renders it.
                    id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::"
                    f"{settings.archive_bucket_name_as('<AWS::AccountId>', '<AWS::Region>')}"
                    "/logs/*]",
                    reason=ARCHIVE_REASON,
                )
            )

        self.function = lambda_.Function(
            self,
            "Function",
            description=f"logsvc {name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(
                str(Path(ROOT, settings.functions_dir, name)), exclude=["__pycache__", "*.pyc"]
            ),
            layers=[core_layer(self), dependencies_layer(self, settings.wheelhouse)],
            memory_size=spec.memory_mb,
            timeout=cdk.Duration.seconds(spec.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            environment=self._environment(name, spec, core, settings),
        )
        self._alarms(core)
        self.live_tail: StreamApi | None = None
        if spec.serves_live_tail:
            live_tail = self.live_tail = StreamApi(
                self, "LiveTail", function=self.function, settings=settings
            )
        if live_tail is not None and (spec.serves_live_tail or spec.publishes_live_tail):
            # Replies and new entries go out through the WebSocket API's management API.
            self.function.add_environment("STREAM_ENDPOINT", live_tail.callback_url)
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["execute-api:ManageConnections"],
                    resources=[live_tail.manage_connections_arn],
                )
            )
            rendered = manage_connections_arn(
                settings, "<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>"
            )
            cdk.Validations.of(role).acknowledge(
                cdk.Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered}]",
                    reason=MANAGE_REASON,
                )
            )
        self.ingest_buffer: IngestBuffer | None = None
        if spec.drains_ingest_buffer:
            self.ingest_buffer = IngestBuffer(
                self,
                "Buffer",
                writer=self.function,
                alarm_topic=core.alarm_topic,
                shards=settings.ingest_shards,
            )
        if spec.appends_to_buffer and ingest_buffer is not None:
            self.function.add_environment(
                "INGEST_BUFFER", f"kinesis://{ingest_buffer.stream.stream_name}"
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["kinesis:PutRecords"], resources=[ingest_buffer.stream.stream_arn]
                )
            )
        if spec.schedule:
            rule = events.Rule(self, "Schedule", schedule=events.Schedule.expression(spec.schedule))
            rule.add_target(targets.LambdaFunction(self.function))

    @staticmethod
    def _statements(
        spec: FunctionSpec, core: CoreStack, log_group: logs.LogGroup, settings: DeploymentSettings
    ) -> list[iam.PolicyStatement]:
        secrets = [core.database_secret]
        if spec.reads_api_key:
            secrets.append(core.api_key)
        if spec.archive_actions and core.r2_credentials is not None:
            secrets.append(core.r2_credentials)
        if spec.sends_alerts and core.alert_webhook is not None:
            secrets.append(core.alert_webhook)
        statements = [
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
            ),
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret.secret_arn for secret in secrets],
            ),
        ]
        # The coordination table: the account's D1 request budget for every function, the
        # daily counts and Idempotency-Key receipts for those that buffer entries.
        table_actions = ["dynamodb:UpdateItem"]
        if spec.appends_to_buffer:
            table_actions += ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
        statements.append(
            iam.PolicyStatement(actions=table_actions, resources=[core.coordination.table_arn])
        )
        if spec.archive_actions and core.bucket is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=list(spec.archive_actions), resources=[settings.archive_objects_arn]
                )
            )
        if spec.lists_archive and core.bucket is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{cdk.Aws.PARTITION}:s3:::{settings.archive_bucket_name}"],
                    conditions={"StringLike": {"s3:prefix": ["logs/*"]}},
                )
            )
        if spec.sends_alerts:
            statements.append(
                iam.PolicyStatement(actions=["sns:Publish"], resources=[core.alerts.topic_arn])
            )
            if settings.analysis_llm == "bedrock":
                statements.append(
                    iam.PolicyStatement(
                        actions=["bedrock:InvokeModel"],
                        resources=[
                            f"arn:{cdk.Aws.PARTITION}:bedrock:{cdk.Aws.REGION}::foundation-model/"
                            f"{settings.analysis_llm_model}"
                        ],
                    )
                )
        return statements

    @staticmethod
    def _environment(
        name: str, spec: FunctionSpec, core: CoreStack, settings: DeploymentSettings
    ) -> dict[str, str]:
        environment = {
            "POWERTOOLS_SERVICE_NAME": f"logsService-{name}",
            "POWERTOOLS_METRICS_NAMESPACE": "logsService",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "DATABASE_URL": settings.database_url,
            core.database_secret_variable: core.database_secret.secret_arn,
            "DEFAULT_TTL_DAYS": str(settings.default_ttl_days),
            "CLEANUP_BATCH_SIZE": str(settings.cleanup_batch_size),
            "OPENAPI_DOCUMENT": "/opt/openapi.json",
            "COORDINATION_TABLE": core.coordination.table_name,
        }
        if spec.reads_api_key:
            environment["LOG_SERVICE_API_KEY_SECRET_ARN"] = core.api_key.secret_arn
        if core.bucket is not None:
            environment["ARCHIVE_URL"] = f"s3://{settings.archive_bucket_name}"
        else:
            environment["ARCHIVE_URL"] = f"s3://{settings.r2_bucket}"
            environment["ARCHIVE_ENDPOINT_URL"] = (
                f"https://{settings.r2_account_id}.r2.cloudflarestorage.com"
            )
            if spec.archive_actions:
                environment["ARCHIVE_CREDENTIALS_SECRET_ARN"] = core.r2_credentials.secret_arn
        if spec.sends_alerts:
            environment["ALERT_TOPIC_ARN"] = core.alerts.topic_arn
            if core.alert_webhook is not None:
                environment["ALERT_WEBHOOK_URL_SECRET_ARN"] = core.alert_webhook.secret_arn
            if settings.analysis_llm:
                environment["ANALYSIS_LLM"] = settings.analysis_llm
                environment["ANALYSIS_LLM_MODEL"] = settings.analysis_llm_model
        if settings.cors_origins:
            environment["CORS_ORIGINS"] = ",".join(settings.cors_origins)
        if settings.redact:
            environment["REDACT"] = settings.redact
        if settings.redact_patterns:
            environment["REDACT_PATTERNS"] = settings.redact_patterns
        return environment

    def _alarms(self, core: CoreStack) -> None:
        for metric_name, metric in (
            ("Errors", self.function.metric_errors()),
            ("Throttles", self.function.metric_throttles()),
        ):
            alarm = cloudwatch.Alarm(
                self,
                f"{metric_name}Alarm",
                metric=metric.with_(period=cdk.Duration.minutes(5), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{self.function.node.path}: {metric_name} in 5 minutes",
            )
            alarm.add_alarm_action(actions.SnsAction(core.alarm_topic))
