"""What every function shares: the archive bucket, the secrets and the alarm topic.

The layers are not here: a stack exporting a layer version could not replace it while
other stacks import it, so each function stack builds them from the same assets.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.alarms import alarm
from stacks.archive_search import ArchiveSearch
from stacks.settings import ARCHIVE_PREFIXES, COMPACTED_PREFIX, DeploymentSettings

ROTATION_REASON = (
    "Rotated by operators (README, Deploy to AWS): the API key is handed to clients and the "
    "Cloudflare tokens are issued by Cloudflare, so no rotation Lambda can replace them."
)


class CoreStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploymentSettings, **kwargs
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        self.api_key = self._secret(
            "ApiKey",
            "LOG_SERVICE_API_KEY: the Bearer key clients send",
            generate=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=43
            ),
        )
        # Every secret exists whatever the settings, under one construct id each: the
        # function stacks import them, and an export that a setting removed while a function
        # still imported it would fail the deploy ("export in use").
        # What the functions reach D1 with: an API token, or the bridge Worker's secret.
        bridge = settings.database == "d1-bridge"
        self.database_secret = self._secret(
            "DatabaseSecret",
            "The D1 bridge Worker's BRIDGE_SECRET (set after deploy)"
            if bridge
            else "Cloudflare API token with D1 edit rights (set after deploy)",
        )
        self.database_secret_variable = (
            "D1_BRIDGE_SECRET_ARN" if bridge else "D1_API_TOKEN_SECRET_ARN"
        )
        self.bucket: s3.IBucket | None = None
        self.r2_credentials = self._secret(
            "R2Credentials",
            'R2 access key (archive=r2): {"access_key_id": "...", "secret_access_key": "..."}',
        )
        if settings.archive == "s3" and settings.adopt_archive_bucket == "true":
            # A bucket kept by an earlier deployment (cdk destroy retains it): used as it is.
            self.bucket = s3.Bucket.from_bucket_name(
                self, "Archive", settings.archive_bucket_name_as(self.account, self.region)
            )
            cdk.CfnOutput(self, "ArchiveBucketName", value=self.bucket.bucket_name)
        elif settings.archive == "s3":
            self.bucket = self._archive_bucket(settings)
            cdk.CfnOutput(self, "ArchiveBucketName", value=self.bucket.bucket_name)
        # Searching the archive: Athena over S3; with R2, DuckDB in the search function.
        self.archive_search: ArchiveSearch | None = None
        if settings.archive == "s3":
            self.archive_search = ArchiveSearch(
                self,
                "ArchiveSearch",
                archive_bucket_name=settings.archive_bucket_name,
                results_bucket_name=settings.athena_results_bucket_name_as(
                    self.account, self.region
                ),
                name_prefix=settings.stack_prefix,
                scan_limit_gb=settings.athena_scan_limit_gb,
                adopt_results_bucket=settings.adopt_archive_bucket == "true",
            )
        self.alert_webhook = self._secret(
            "AlertWebhookUrl",
            "Slack-compatible webhook URL for error alerts (used with alert_webhook=true)",
        )
        # The ask route's model key, when its provider is not Bedrock (IAM, no key).
        self.model_api_key = (
            self._secret(
                "ModelApiKey",
                f"The {settings.ask_llm} key the ask function sends its model (ask_llm)",
            )
            if settings.ask_llm in ("workers-ai", "openai")
            else None
        )

        self.coordination = self._coordination_table()
        if settings.manage_api_gateway_account == "true":
            self._api_gateway_logging_role()
        # One key for both topics: CloudWatch alarms cannot publish to a topic encrypted
        # with the AWS-managed alias/aws/sns key, so the key's policy lets CloudWatch in.
        self.topic_key = kms.Key(
            self,
            "TopicKey",
            description="logsvc alarm and alert topics",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.alarm_topic = self._topic("Alarms", "logsvc alarms")
        if settings.alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        else:
            cdk.Annotations.of(self).add_warning_v2(
                "logsvc:no-alarm-email",
                "no alarm_email: every alarm goes to the Alarms topic and reaches nobody. Put "
                '"alarm_email" in cdk.json\'s context (a deploy without it removes the '
                "subscription), or subscribe to AlarmsTopicArn yourself.",
            )
        self.alerts = self._topic("Alerts", "logsvc error alerts (HIGH and CRITICAL analyses)")
        alarm(
            self,
            "CoordinationThrottledAlarm",
            self.coordination.metric_throttled_requests_for_operations(
                operations=[
                    dynamodb.Operation.UPDATE_ITEM,
                    dynamodb.Operation.PUT_ITEM,
                    dynamodb.Operation.GET_ITEM,
                ],
                period=cdk.Duration.minutes(5),
            ),
            threshold=1,
            description="logsvc: DynamoDB throttled the coordination table (the D1 budget, "
            "daily counts, receipts): ingest and reads answer 503 meanwhile",
            topic=self.alarm_topic,
        )
        # Exported whatever the settings, under the names CDK gives the references: a
        # function stack deployed with other settings may still import any of them.
        for value in (
            self.api_key.secret_arn,
            self.database_secret.secret_arn,
            self.r2_credentials.secret_arn,
            self.alert_webhook.secret_arn,
            self.coordination.table_name,
            self.coordination.table_arn,
            self.alarm_topic.topic_arn,
            self.alerts.topic_arn,
            self.topic_key.key_arn,
        ):
            self.export_value(value)

    def _api_gateway_logging_role(self) -> None:
        """API Gateway's account-wide CloudWatch role (one per region), set here, before any
        stage that writes access logs (the WebSocket stage deploys before the REST API).
        Accounts that manage it elsewhere turn it off: -c manage_api_gateway_account=false."""
        role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:"
                "policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="The AWS-managed policy for API Gateway's logging role is the "
                "documented, least-privilege choice.",
            )
        )
        account = apigateway.CfnAccount(
            self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn
        )
        # CloudFormation keeps the account setting when the stack goes (one per region), and
        # so the role it names: other APIs of the region keep logging after a destroy.
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    def _coordination_table(self) -> dynamodb.Table:
        """What every function instance agrees on (logsvc.coordination): the account's D1
        request budget, daily counts and Idempotency-Key receipts; items expire by TTL."""
        table = dynamodb.Table(
            self,
            "Coordination",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        cdk.Validations.of(table).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-DDB3",
                reason="Items are budget windows, daily counts and receipts that expire within "
                "days; a restore would bring back nothing worth having.",
            )
        )
        return table

    def _secret(
        self,
        name: str,
        description: str,
        generate: secretsmanager.SecretStringGenerator | None = None,
    ) -> secretsmanager.Secret:
        """A secret an operator sets (or rotates) by hand; its ARN is a stack output."""
        secret = secretsmanager.Secret(
            self, name, description=description, generate_secret_string=generate
        )
        cdk.Validations.of(secret).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-SMG4", reason=ROTATION_REASON)
        )
        cdk.CfnOutput(self, f"{name}SecretArn", value=secret.secret_arn)
        return secret

    def _topic(self, name: str, display_name: str) -> sns.Topic:
        topic = sns.Topic(
            self,
            name,
            display_name=display_name,
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        cdk.CfnOutput(self, f"{name}TopicArn", value=topic.topic_arn)
        return topic

    def _archive_bucket(self, settings: DeploymentSettings) -> s3.Bucket:
        # Compacted objects are written once and read by archive searches, mostly of recent
        # days: Intelligent-Tiering moves an object nobody read for 30 days to its
        # infrequent tier (54% cheaper) and after 90 to archive instant access (83%), with
        # no retrieval fee, no minimum duration, and reads in milliseconds as before. The
        # per-flush objects under logs/ live a day (compaction replaces them): not moved.
        lifecycle = [
            s3.LifecycleRule(
                id="CompactedToIntelligentTiering",
                prefix=COMPACTED_PREFIX,
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                        transition_after=cdk.Duration.days(0),
                    )
                ],
            )
        ]
        if settings.archive_expiration_days:
            lifecycle += [
                s3.LifecycleRule(
                    prefix=prefix, expiration=cdk.Duration.days(settings.archive_expiration_days)
                )
                for prefix in ARCHIVE_PREFIXES
            ]
        bucket = s3.Bucket(
            self,
            "Archive",
            bucket_name=settings.archive_bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=lifecycle,
            # Kept on delete and on replacement, but removed when its first creation fails,
            # so a retried first deploy can create it again (RetainExceptOnCreate).
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        cdk.Validations.of(bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="Only the service's own functions write and read the archive; enable "
                "CloudTrail S3 data events where object-level audit is required.",
            )
        )
        return bucket
