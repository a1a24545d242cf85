"""The ingest buffer on AWS: a Kinesis stream the ingest function appends to, drained by the
writer function in large batches with one instance per shard; a dead-letter queue for
entries the index refuses (the writer sets them aside itself); a bucket where Lambda writes
whole the batches it gives up on (records older than the maximum age, after retries that
wait out an outage), for `logsvc redrive`; alarms on the writer's lag, on dead letters and
on any batch given up."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.alarms import alarm, service_metric

# A flush: up to this many records (requests) or this long after the first one.
BATCH_RECORDS = 10_000
BATCH_WINDOW_SECONDS = 4  # WRITER_FLUSH_MS's default
# Lambda retries a failed flush (the writer waits out D1's Retry-After first) until it
# succeeds or its records are a day younger than the stream keeps them (at most 7 days, the
# event source's limit); entries wait in the stream meanwhile, so an outage of days loses
# nothing, and a batch given up lands whole in the failed-batches bucket.
MAX_RECORD_AGE_HOURS = 7 * 24
RETRY_ATTEMPTS = 10_000  # the most Lambda allows: the record age bounds retries first
LAG_ALARM_SECONDS = 300  # the writer is this far behind: entries are not yet searchable


class IngestBuffer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        writer: lambda_.IFunction,
        alarm_topic: sns.ITopic,
        shards: int,
        retention_hours: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Stream",
            shard_count=shards,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=cdk.Duration.hours(retention_hours),
            # Goes with the stack (each one left behind bills its shards): drain it first,
            # the writer's lag alarm clear (docs/DEPLOY.md).
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        cdk.Validations.of(self.dead_letters).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-SQS3",
                reason="This is the dead-letter queue; its messages are redriven by operators.",
            )
        )
        # One writer per shard, reading in order: the D1 requests it makes are bounded by
        # design (one per flush, at most one flush per BATCH_WINDOW_SECONDS per shard).
        self.failed_batches = s3.Bucket(
            self,
            "FailedBatches",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # What it holds was never stored anywhere else: it outlives the stack.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cdk.Validations.of(self.failed_batches).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-S1",
                reason="Lambda alone writes here and operators redrive and delete: the "
                "writer's logs and the alarm record every batch given up.",
            )
        )
        source = sources.KinesisEventSource(
            self.stream,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_RECORDS,
            max_batching_window=cdk.Duration.seconds(BATCH_WINDOW_SECONDS),
            parallelization_factor=1,
            # A batch that fails for a record of its own is halved until that record is
            # alone: the rest is stored, the record is retried and then given up on.
            bisect_batch_on_error=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=cdk.Duration.hours(min(MAX_RECORD_AGE_HOURS, retention_hours - 24)),
            on_failure=_FailedBatchesBucket(self.failed_batches),
            metrics_config=lambda_.MetricsConfig(metrics=[lambda_.MetricType.EVENT_COUNT]),
        )
        writer.add_event_source(source)
        bucket_id = cdk.Stack.of(self).get_logical_id(self.failed_batches.node.default_child)
        cdk.Validations.of(writer.role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
                reason="Lambda names the objects of the batches it gives up (put only)",
            )
        )
        writer.add_environment("FAILED_BATCHES_URL", f"s3://{self.failed_batches.bucket_name}")
        writer.add_environment("WRITER_DEAD_LETTER_QUEUE_URL", self.dead_letters.queue_url)
        self.dead_letters.grant_send_messages(writer)
        alarm(
            self,
            "LagAlarm",
            self.stream.metric_get_records_iterator_age_milliseconds(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=LAG_ALARM_SECONDS * 1000,
            description="logsvc: the writer is more than 5 minutes behind the ingest stream",
            topic=alarm_topic,
        )
        alarm(
            self,
            "WriteThrottledAlarm",
            self.stream.metric_write_provisioned_throughput_exceeded(
                period=cdk.Duration.minutes(5), statistic="Sum"
            ),
            threshold=100,
            description="logsvc: the ingest stream refused writes for its shard limits (1,000 "
            "records or 1 MB a second a shard): add shards (-c ingest_shards) before ingest "
            "answers 503",
            topic=alarm_topic,
        )
        alarm(
            self,
            "BatchesGivenUpAlarm",
            cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="OnFailureDestinationDeliveredEventCount",
                dimensions_map={"EventSourceMappingUUID": source.event_source_mapping_id},
                period=cdk.Duration.minutes(5),
                statistic="Sum",
            ),
            threshold=1,
            description="logsvc: the writer gave up on ingest records; they are in the "
            "FailedBatches bucket: `logsvc redrive` stores them (docs/DEPLOY.md)",
            topic=alarm_topic,
        )
        alarm(
            self,
            "IndexFullAlarm",
            service_metric("IndexFillPercent", "writer", cdk.Duration.minutes(5)),
            threshold=100,
            description="logsvc: an index database reached INDEX_BUDGET_BYTES; the largest "
            "services' hot windows are shrinking (add a database: docs/OPERATIONS.md)",
            topic=alarm_topic,
        )
        alarm(
            self,
            "DeadLettersAlarm",
            self.dead_letters.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            description="logsvc: log entries could not be stored (dead letters)",
            topic=alarm_topic,
        )


@jsii.implements(lambda_.IEventSourceDlq)
class _FailedBatchesBucket:
    """The bucket as the event source's on-failure destination, with only what Lambda needs
    there (s3:PutObject and s3:ListBucket, as its documentation lists; CDK's own destination
    grants read, write and delete of everything in it)."""

    def __init__(self, bucket: s3.IBucket):
        self.bucket = bucket

    def bind(
        self, target: lambda_.IEventSourceMapping, target_handler: lambda_.IFunction
    ) -> lambda_.DlqDestinationConfig:
        target_handler.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn])
        )
        target_handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[self.bucket.arn_for_objects("*")]
            )
        )
        return lambda_.DlqDestinationConfig(destination=self.bucket.bucket_arn)
