"""What a function may do, declared once per function (stacks/function_stack.FUNCTION_SPECS)
and turned here, in one place each, into its grants, environment and resources.

A capability's ``attach`` adds IAM statements to the function's role, variables to its
environment, and whatever the capability owns (a WebSocket API, a stream, a schedule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs

from logsvc.archive.log_archive import HEALTH_PROBE_KEY
from logsvc.language_models import DEFAULT_MODELS
from stacks.alarms import alarm
from stacks.core_stack import CoreStack
from stacks.ingest_buffer import IngestBuffer
from stacks.settings import ARCHIVE_PREFIXES, DeploymentSettings
from stacks.stream_api import MANAGE_REASON, StreamApi, manage_connections_arn

ARCHIVE_REASON = (
    "Archive objects are named per request under logs/ and compacted/; nothing else is granted."
)
R2_CACHE_MB = 1536  # of the search function's 2,048 MB of /tmp
ATHENA_REASON = "Athena writes and reads its query results under the results bucket."


@dataclass
class Wiring:
    """A function being built, and what it can be connected to."""

    stack: cdk.Stack
    function: lambda_.Function
    role: iam.Role
    core: CoreStack
    settings: DeploymentSettings
    live_tail: StreamApi | None = None  # the WebSocket API (its stack is built first)
    ingest_buffer: IngestBuffer | None = None  # the ingest stream (likewise)

    def allow(self, actions: list[str], resources: list[str], **conditions: object) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions or None)
        )

    def read_secret(self, secret_arn: str, variable: str) -> None:
        self.allow(["secretsmanager:GetSecretValue"], [secret_arn])
        self.function.add_environment(variable, secret_arn)

    def acknowledge(self, finding: str, reason: str) -> None:
        cdk.Validations.of(self.role).acknowledge(cdk.Acknowledgment(id=finding, reason=reason))


def _logical_id(construct: object) -> str:
    default = construct.node.default_child  # type: ignore[attr-defined]
    return cdk.Stack.of(default).get_logical_id(default)


class Capability(Protocol):
    def attach(self, wiring: Wiring) -> None: ...


@dataclass(frozen=True)
class ReadsApiKey:
    """Checks Bearer keys: the bootstrap key's secret."""

    def attach(self, wiring: Wiring) -> None:
        wiring.read_secret(wiring.core.api_key.secret_arn, "LOG_SERVICE_API_KEY_SECRET_ARN")


@dataclass(frozen=True)
class UsesArchive:
    """Reads or writes archive objects under logs/ and compacted/ (and, with ``lists``,
    lists them)."""

    actions: tuple[str, ...]
    lists: bool = False

    def attach(self, wiring: Wiring) -> None:
        core, settings = wiring.core, wiring.settings
        if core.bucket is None:  # R2: its S3 API keys, no IAM
            wiring.read_secret(core.r2_credentials.secret_arn, "ARCHIVE_CREDENTIALS_SECRET_ARN")
            return
        wiring.allow(list(self.actions), settings.archive_objects_arns())
        # The finding names the resource as cdk-nag renders it.
        rendered = settings.archive_bucket_name_as("<AWS::AccountId>", "<AWS::Region>")
        for arn in settings.archive_objects_arns(rendered):
            wiring.acknowledge(f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]", ARCHIVE_REASON)
        if self.lists:
            wiring.allow(
                ["s3:ListBucket"],
                [f"arn:{cdk.Aws.PARTITION}:s3:::{settings.archive_bucket_name}"],
                StringLike={"s3:prefix": [f"{prefix}*" for prefix in ARCHIVE_PREFIXES]},
            )


@dataclass(frozen=True)
class SearchesArchive:
    """Searches the archive past the index's hot window: Athena over the S3 archive (its
    workgroup, the Glue tables and the results bucket), else DuckDB in the function over
    R2's S3 API, fetching objects into /tmp."""

    def attach(self, wiring: Wiring) -> None:
        search = wiring.core.archive_search
        if search is None:
            wiring.function.add_environment("ARCHIVE_ENGINE", "duckdb")
            wiring.function.add_environment("ARCHIVE_CACHE_MB", str(R2_CACHE_MB))
            return
        wiring.function.add_environment("ARCHIVE_ENGINE", "athena")
        wiring.function.add_environment("ATHENA_DATABASE", search.database_name)
        wiring.function.add_environment("ATHENA_WORKGROUP", search.workgroup_name)
        wiring.allow(
            ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"],
            [search.workgroup_arn()],
        )
        wiring.allow(["glue:GetDatabase", "glue:GetTable"], search.glue_arns())
        settings = wiring.settings
        results = settings.athena_results_bucket_name_as(cdk.Aws.ACCOUNT_ID, cdk.Aws.REGION)
        wiring.allow(
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            [f"arn:{cdk.Aws.PARTITION}:s3:::{results}/results/*"],
        )
        wiring.allow(
            ["s3:GetBucketLocation", "s3:ListBucket"], [f"arn:{cdk.Aws.PARTITION}:s3:::{results}"]
        )
        # Athena asks where the archive bucket is as the caller (its reference policy).
        archive = f"arn:{cdk.Aws.PARTITION}:s3:::{settings.archive_bucket_name}"
        wiring.allow(["s3:GetBucketLocation"], [archive])
        shown = settings.athena_results_bucket_name_as("<AWS::AccountId>", "<AWS::Region>")
        rendered = f"arn:<AWS::Partition>:s3:::{shown}/results/*"
        wiring.acknowledge(f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered}]", ATHENA_REASON)


@dataclass(frozen=True)
class ChecksArchive:
    """/health: lists the archive's one probe key, and nothing else (S3's s3:prefix
    condition holds the listing to that key)."""

    def attach(self, wiring: Wiring) -> None:
        core, settings = wiring.core, wiring.settings
        if core.bucket is None:
            wiring.read_secret(core.r2_credentials.secret_arn, "ARCHIVE_CREDENTIALS_SECRET_ARN")
            return
        bucket = f"arn:{cdk.Aws.PARTITION}:s3:::{settings.archive_bucket_name}"
        wiring.allow(["s3:ListBucket"], [bucket], StringEquals={"s3:prefix": HEALTH_PROBE_KEY})


@dataclass(frozen=True)
class SendsAlerts:
    """Publishes alerts: the topic, the optional webhook secret and the optional model."""

    def attach(self, wiring: Wiring) -> None:
        core, settings = wiring.core, wiring.settings
        wiring.allow(["sns:Publish"], [core.alerts.topic_arn])
        # The topic is encrypted with the deployment's key: SNS asks KMS for a data key
        # as the publisher, so without these every publish is refused.
        wiring.allow(["kms:GenerateDataKey*", "kms:Decrypt"], [core.topic_key.key_arn])
        wiring.acknowledge(
            "AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "SNS asks for GenerateDataKey or GenerateDataKeyWithoutPlaintext as it chooses; "
            "the statement names the topics' one key",
        )
        wiring.function.add_environment("ALERT_TOPIC_ARN", core.alerts.topic_arn)
        if settings.alert_webhook == "true":
            wiring.read_secret(core.alert_webhook.secret_arn, "ALERT_WEBHOOK_URL_SECRET_ARN")
        if settings.analysis_llm:
            wiring.function.add_environment("ANALYSIS_LLM", settings.analysis_llm)
            wiring.function.add_environment("ANALYSIS_LLM_MODEL", settings.analysis_llm_model)
        if settings.analysis_llm == "bedrock":
            allow_bedrock(wiring, settings.analysis_llm_model)


@dataclass(frozen=True)
class AsksModel:
    """The ask function's model, when ask_llm names one: Bedrock's InvokeModel on that one
    model (or inference profile and the models it routes to), else the key secret."""

    def attach(self, wiring: Wiring) -> None:
        core, settings = wiring.core, wiring.settings
        if not settings.ask_llm:
            return
        wiring.function.add_environment("ASK_LLM", settings.ask_llm)
        if settings.ask_llm_model:
            wiring.function.add_environment("ASK_LLM_MODEL", settings.ask_llm_model)
        if settings.ask_llm == "bedrock":
            allow_bedrock(wiring, settings.ask_llm_model)
            return
        assert core.model_api_key is not None
        wiring.read_secret(core.model_api_key.secret_arn, "MODEL_API_KEY_SECRET_ARN")
        if settings.ask_llm == "openai":
            wiring.function.add_environment("OPENAI_BASE_URL", settings.ask_llm_url)
        else:
            account = settings.ask_llm_account_id or settings.d1_account_id
            wiring.function.add_environment("WORKERS_AI_ACCOUNT_ID", account)


# Bedrock's cross-region inference profiles: their ids start with the geography.
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


def allow_bedrock(wiring: Wiring, model_id: str) -> None:
    """InvokeModel (which Converse needs) on ``model_id`` alone: the foundation model in
    this region; for an inference profile, the profile and its model in the regions the
    profile routes to (the only wildcard: which regions is the profile's choice)."""
    model_id = model_id or DEFAULT_MODELS["bedrock"]
    partition, region = cdk.Aws.PARTITION, cdk.Aws.REGION
    if not model_id.startswith(INFERENCE_PROFILE_PREFIXES):
        wiring.allow(
            ["bedrock:InvokeModel"],
            [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"],
        )
        return
    model = model_id.split(".", 1)[1]
    profile = f"arn:{partition}:bedrock:{region}:{cdk.Aws.ACCOUNT_ID}:inference-profile/{model_id}"
    wiring.allow(
        ["bedrock:InvokeModel"], [profile, f"arn:{partition}:bedrock:*::foundation-model/{model}"]
    )
    wiring.acknowledge(
        f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::"
        f"foundation-model/{model}]",
        "A cross-region inference profile routes to the same model in regions it chooses.",
    )


@dataclass(frozen=True)
class ServesLiveTail:
    """Owns the live-tail WebSocket API and answers on it."""

    def attach(self, wiring: Wiring) -> None:
        wiring.live_tail = StreamApi(
            wiring.stack, "LiveTail", function=wiring.function, settings=wiring.settings
        )
        PostsToLiveTail().attach(wiring)


@dataclass(frozen=True)
class PostsToLiveTail:
    """Sends new entries (or replies) to live-tail connections."""

    def attach(self, wiring: Wiring) -> None:
        if wiring.live_tail is None:
            return
        live_tail = wiring.live_tail
        wiring.function.add_environment("STREAM_ENDPOINT", live_tail.callback_url_in(wiring.stack))
        wiring.allow(
            ["execute-api:ManageConnections"], [live_tail.manage_connections_arn_in(wiring.stack)]
        )
        # cdk-nag names the finding by the resource as it renders it: the API id is a
        # reference in the stack that owns the API and an import of a fixed name elsewhere.
        owner = cdk.Stack.of(live_tail) is wiring.stack
        shown = f"<{_logical_id(live_tail.api)}>" if owner else live_tail.export_name
        rendered = manage_connections_arn(
            wiring.settings, "<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>", shown
        )
        wiring.acknowledge(f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered}]", MANAGE_REASON)


class ServesConsole:
    """Serves the web console, whose live tail connects to the stream API."""

    def attach(self, wiring: Wiring) -> None:
        if wiring.live_tail is not None:
            wiring.function.add_environment(
                "LIVE_TAIL_URL", wiring.live_tail.client_url_in(wiring.stack)
            )


@dataclass(frozen=True)
class DrainsIngestBuffer:
    """The writer: owns the ingest stream and stores what it holds."""

    def attach(self, wiring: Wiring) -> None:
        wiring.ingest_buffer = IngestBuffer(
            wiring.stack,
            "Buffer",
            writer=wiring.function,
            alarm_topic=wiring.core.alarm_topic,
            shards=wiring.settings.ingest_shards,
            retention_hours=wiring.settings.ingest_retention_hours,
        )


@dataclass(frozen=True)
class AppendsToBuffer:
    """Ingest: appends to the stream and keeps Idempotency-Key receipts and daily counts."""

    def attach(self, wiring: Wiring) -> None:
        wiring.allow(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            [wiring.core.coordination.table_arn],
        )
        if wiring.ingest_buffer is None:  # buffered_ingest=false: ingest writes D1 itself
            return
        stream = wiring.ingest_buffer.stream
        wiring.function.add_environment("INGEST_BUFFER", f"kinesis://{stream.stream_name}")
        wiring.allow(["kinesis:PutRecords"], [stream.stream_arn])


@dataclass(frozen=True)
class RunsOnSchedule:
    """Invoked by EventBridge on a schedule expression. A run that fails (or cannot be
    delivered) is retried twice, then lands in a dead-letter queue, which raises an alarm."""

    expression: str

    def attach(self, wiring: Wiring) -> None:
        failed = sqs.Queue(
            wiring.stack,
            "FailedRuns",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        cdk.Validations.of(failed).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This is the dead-letter queue of the scheduled runs.",
            )
        )
        wiring.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=cdk.Duration.hours(1),
            on_failure=destinations.SqsDestination(failed),
        )
        rule = events.Rule(
            wiring.stack, "Schedule", schedule=events.Schedule.expression(self.expression)
        )
        rule.add_target(
            targets.LambdaFunction(
                wiring.function,
                dead_letter_queue=failed,
                retry_attempts=2,
                max_event_age=cdk.Duration.hours(1),
            )
        )
        alarm(
            wiring.stack,
            "FailedRunsAlarm",
            failed.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            description=f"{wiring.function.node.path}: a scheduled run failed",
            topic=wiring.core.alarm_topic,
        )
