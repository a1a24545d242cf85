"""One stack per function: its code, layers, role, log group and alarms; the rest comes
from its capabilities (stacks/capabilities.py).

Changing functions/<name> changes only that function's stack, so `cdk deploy
Logsvc-<Name>` ships it alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from logsvc.schedules import SCHEDULES, eventbridge_expression
from stacks.alarms import alarm, service_metric
from stacks.capabilities import (
    AppendsToBuffer,
    AsksModel,
    Capability,
    ChecksArchive,
    DrainsIngestBuffer,
    PostsToLiveTail,
    ReadsApiKey,
    RunsOnSchedule,
    SearchesArchive,
    SendsAlerts,
    ServesConsole,
    ServesLiveTail,
    UsesArchive,
    Wiring,
)
from stacks.core_stack import CoreStack
from stacks.ingest_buffer import IngestBuffer
from stacks.layers import ARCHITECTURE, BASE_LIBRARIES, ROOT, RUNTIME, core_layer, library_layer
from stacks.settings import DeploymentSettings
from stacks.stream_api import StreamApi


@dataclass(frozen=True)
class FunctionSpec:
    """How a function is sized, and what it may do (stacks/capabilities.py)."""

    memory_mb: int = 256
    timeout_s: int = 15
    tmp_mb: int = 512  # /tmp (ephemeral storage): where archive objects are fetched to
    capabilities: tuple[Capability, ...] = ()
    # Layers of third-party packages besides the base one (layers/deps/<name>.txt): what
    # the function's code may import, and no more (tests/infrastructure/test_layers.py).
    libraries: tuple[str, ...] = ()
    # Instances to reserve with -c reserved_concurrency=recommended (see README): from the
    # API's throttle (200 requests/s) over what one instance serves, and one for each job.
    recommended_concurrency: int = 2

    def has(self, kind: type) -> bool:
        return any(isinstance(capability, kind) for capability in self.capabilities)


# What a function that answers searches needs: the callers' keys, archive objects (with
# ListBucket: S3 then answers a missing object with 404, not 403, so an expired entry's
# /full is a 404, not an outage) and the archive's search engine.
READS_BOTH_TIERS: tuple[Capability, ...] = (
    ReadsApiKey(),
    UsesArchive(("s3:GetObject",), lists=True),
    SearchesArchive(),
)
ERROR_RATE_PERCENT = 1  # a function's errors alarm past this share of its invocations

FUNCTION_SPECS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec(
        # Mostly waiting on Kinesis; the largest body (10 MB) peaks at 170 MB (docs/COST.md).
        memory_mb=384,
        timeout_s=29,  # API Gateway stops waiting at 29 s: no work past it
        recommended_concurrency=10,
        libraries=("logql", "sources"),  # sources: OTLP and Loki pushes; LogQL: live tail
        capabilities=(
            ReadsApiKey(),
            UsesArchive(("s3:PutObject",)),  # when buffering is turned off
            PostsToLiveTail(),
            AppendsToBuffer(),
        ),
    ),
    "stream": FunctionSpec(
        timeout_s=10,
        recommended_concurrency=5,
        libraries=("logql",),  # live tail's filters
        capabilities=(ReadsApiKey(), ServesLiveTail()),
    ),
    # Buffered ingest (the default; context buffered_ingest=false turns it off): stores what
    # ingest buffered, in flushes.
    "writer": FunctionSpec(
        memory_mb=512,
        timeout_s=60,
        libraries=("logql",),  # live tail's filters, run on what it stores
        capabilities=(UsesArchive(("s3:PutObject",)), PostsToLiveTail(), DrainsIngestBuffer()),
    ),
    "search": FunctionSpec(
        memory_mb=512,
        timeout_s=29,
        tmp_mb=2048,  # DuckDB over R2: the fetched objects' cache
        recommended_concurrency=10,
        libraries=("logql", "patterns", "archive"),
        capabilities=READS_BOTH_TIERS,
    ),
    # Ask in plain words: runs LogQL like search (both tiers), and asks a model if set.
    "ask": FunctionSpec(
        memory_mb=512,
        timeout_s=29,
        tmp_mb=2048,  # DuckDB over R2, as search
        recommended_concurrency=2,
        libraries=("logql", "patterns", "archive"),
        capabilities=(*READS_BOTH_TIERS, AsksModel()),
    ),
    "config": FunctionSpec(capabilities=(ReadsApiKey(),)),
    "health": FunctionSpec(capabilities=(ChecksArchive(), ServesConsole())),
    # The maintenance jobs; their stacks appear with functions/cleanup and functions/analyze.
    "cleanup": FunctionSpec(
        memory_mb=1769,  # one vCPU for compaction
        timeout_s=900,
        tmp_mb=4096,  # compaction: a service-day's objects, its Parquet, DuckDB's spill
        recommended_concurrency=1,  # runs never overlap
        libraries=("logql", "archive"),
        capabilities=(
            # Get and Put: compaction reads past days and writes them as Parquet (and each
            # run records its summary as the service's own log entry).
            UsesArchive(("s3:DeleteObject", "s3:GetObject", "s3:PutObject"), lists=True),
            RunsOnSchedule(eventbridge_expression(SCHEDULES["cleanup"])),
        ),
    ),
    "analyze": FunctionSpec(
        memory_mb=1024,
        timeout_s=900,
        recommended_concurrency=1,
        libraries=("logql", "patterns"),
        capabilities=(
            UsesArchive(("s3:PutObject",)),
            SendsAlerts(),
            RunsOnSchedule(eventbridge_expression(SCHEDULES["analyze"])),
        ),
    ),
}

XRAY_REASON = "X-Ray's PutTraceSegments and PutTelemetryRecords take no resource ARN."


class FunctionStack(cdk.Stack):
    """A function, its role, its log group and alarms; what else it gets, its capabilities
    say. Every function reads the index (its secret, the shared D1 request budget)."""

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
            layers=[
                core_layer(self),
                *(
                    library_layer(self, library, settings.wheelhouse)
                    for library in (BASE_LIBRARIES, *spec.libraries)
                ),
            ],
            memory_size=spec.memory_mb,
            ephemeral_storage_size=cdk.Size.mebibytes(spec.tmp_mb),
            timeout=cdk.Duration.seconds(spec.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            role=role,
            log_group=log_group,
            # The function's own records only: Lambda's START, END and REPORT lines (about
            # 300 bytes a request, billed as logs) are kept for warnings and errors.
            logging_format=lambda_.LoggingFormat.JSON,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            environment=self._environment(name, core, settings),
            reserved_concurrent_executions=settings.reserved_concurrency_of(
                name, spec.recommended_concurrency
            ),
        )
        wiring = Wiring(self, self.function, role, core, settings, live_tail, ingest_buffer)
        wiring.allow(["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn])
        wiring.allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])
        wiring.acknowledge("AwsSolutions::AwsSolutions-IAM5[Resource::*]", XRAY_REASON)
        wiring.read_secret(core.database_secret.secret_arn, core.database_secret_variable)
        # Every D1 request of the deployment is counted in the coordination table.
        wiring.allow(["dynamodb:UpdateItem"], [core.coordination.table_arn])
        for capability in spec.capabilities:
            capability.attach(wiring)
        self.live_tail = wiring.live_tail if live_tail is None else None
        self.ingest_buffer = wiring.ingest_buffer if ingest_buffer is None else None
        self._alarms(core, name)

    @staticmethod
    def _environment(name: str, core: CoreStack, settings: DeploymentSettings) -> dict[str, str]:
        """What every function reads: the index, the archive, the shared settings."""
        environment = {
            "POWERTOOLS_SERVICE_NAME": f"logsService-{name}",
            "POWERTOOLS_METRICS_NAMESPACE": "logsService",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "DATABASE_URL": settings.database_url,
            "INDEX_BUDGET_BYTES": str(settings.index_budget_bytes),
            "DEFAULT_TTL_DAYS": str(settings.default_ttl_days),
            "CLEANUP_BATCH_SIZE": str(settings.cleanup_batch_size),
            "OPENAPI_DOCUMENT": "/opt/openapi.json",
            "COORDINATION_TABLE": core.coordination.table_name,
        }
        if core.bucket is not None:
            environment["ARCHIVE_URL"] = f"s3://{settings.archive_bucket_name}"
            # Bucket names are global: the archive must be this account's (adopted too).
            environment["ARCHIVE_BUCKET_OWNER"] = cdk.Aws.ACCOUNT_ID
        else:
            environment["ARCHIVE_URL"] = f"s3://{settings.r2_bucket}"
            environment["ARCHIVE_ENDPOINT_URL"] = (
                f"https://{settings.r2_account_id}.r2.cloudflarestorage.com"
            )
        if settings.index_shards:
            environment["INDEX_SHARD_URLS"] = ",".join(settings.index_shard_urls)
        if settings.cors_origins:
            environment["CORS_ORIGINS"] = ",".join(settings.cors_origins)
        if settings.redact:
            environment["REDACT"] = settings.redact
        if settings.redact_patterns:
            environment["REDACT_PATTERNS"] = settings.redact_patterns
        return environment

    def _alarms(self, core: CoreStack, name: str) -> None:
        if name == "cleanup":
            alarm(
                self,
                "CleanupIncompleteAlarm",
                service_metric("CleanupIncomplete", "cleanup", cdk.Duration.days(1)),
                threshold=1,
                description="logsvc: the daily cleanup stopped for time; the next run carries "
                "on (if it keeps stopping, raise the function's timeout or CLEANUP_BATCH_SIZE)",
                topic=core.alarm_topic,
            )
        five_minutes = cdk.Duration.minutes(5)
        # Errors as a share of invocations, so one error in 10,000 does not page; while
        # invocations are few (the scheduled jobs) every error counts as 100%.
        error_rate = cloudwatch.MathExpression(
            expression="IF(invocations < 100, errors * 100, 100 * errors / invocations)",
            using_metrics={
                "errors": self.function.metric_errors(period=five_minutes, statistic="Sum"),
                "invocations": self.function.metric_invocations(
                    period=five_minutes, statistic="Sum"
                ),
            },
            label="error rate (%)",
            period=five_minutes,
        )
        alarm(
            self,
            "ErrorsAlarm",
            error_rate,
            threshold=ERROR_RATE_PERCENT,
            description=f"{self.function.node.path}: {ERROR_RATE_PERCENT}% of invocations "
            "failed in 5 minutes (or any error while it ran under 100 times)",
            topic=core.alarm_topic,
        )
        alarm(
            self,
            "ThrottlesAlarm",
            self.function.metric_throttles(period=five_minutes, statistic="Sum"),
            threshold=1,
            description=f"{self.function.node.path}: Throttles in 5 minutes",
            topic=core.alarm_topic,
        )
