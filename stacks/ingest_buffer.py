"""The ingest buffer on AWS: a Kinesis stream the ingest function appends to, drained by the
writer function in large batches with one instance per shard, a dead-letter queue for
entries the index refuses and records that could not be written in time, and alarms on
the writer's lag and on dead letters."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.alarms import alarm

# A flush: up to this many records (requests) or this long after the first one.
BATCH_RECORDS = 10_000
BATCH_WINDOW_SECONDS = 4  # WRITER_FLUSH_MS's default
# Lambda retries a failed flush until it succeeds or its records are this old; entries wait
# in the stream meanwhile (a D1 or archive outage loses nothing).
STREAM_RETENTION_HOURS = 24
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
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream = kinesis.Stream(
            self,
            "Stream",
            shard_count=shards,
            stream_mode=kinesis.StreamMode.PROVISIONED,
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=cdk.Duration.hours(STREAM_RETENTION_HOURS),
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
        writer.add_event_source(
            sources.KinesisEventSource(
                self.stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_RECORDS,
                max_batching_window=cdk.Duration.seconds(BATCH_WINDOW_SECONDS),
                parallelization_factor=1,
                bisect_batch_on_error=False,
                retry_attempts=-1,
                max_record_age=cdk.Duration.hours(STREAM_RETENTION_HOURS),
                on_failure=sources.SqsDlq(self.dead_letters),
            )
        )
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
            "IndexFullAlarm",
            cloudwatch.Metric(
                namespace="logsService",
                metric_name="IndexFillPercent",
                dimensions_map={"service": "writer"},
                period=cdk.Duration.minutes(5),
                statistic="Maximum",
            ),
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
