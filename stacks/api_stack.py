"""The REST API, built from the shared route table, behind a WAF with per-IP rate limits;
access logs, stage throttling, an API 5xx alarm and a dashboard."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from aws_cdk import aws_xray as xray
from constructs import Construct

from logsvc.api import cors as cors_rules
from logsvc.routes import ROUTES
from stacks.alarms import alarm
from stacks.core_stack import CoreStack
from stacks.settings import DeploymentSettings

BATCH_INGEST_PATH = "/api/v1/logs/ingest/batch"
# What X-Ray traces of ingest requests, and of the others past one a second: 0.1% of 10 M
# single-entry requests a day is 10,000 traces (docs/COST.md).
TRACE_SAMPLING_RATE = 0.001
INGEST_TRACE_PATH = "/api/v1/logs/ingest*"  # the ingest routes clients send most to
WAF_BLOCKS_ALARM = 500  # blocked requests in 5 minutes
THROTTLED_ALARM = 100  # requests the stage refused with 429 (its throttle) in 5 minutes
AUTH_REASON = (
    "Every route but /health and /openapi.json checks the Bearer API key in the function "
    "(constant-time comparison); an authorizer would add a second invocation per request."
)


class ApiStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        core: CoreStack,
        function_arns: dict[str, str],
        settings: DeploymentSettings,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Imported by ARN: the permissions to invoke them stay in this stack, so a
        # function's stack never depends on the API's.
        functions = {
            name: lambda_.Function.from_function_attributes(
                self, f"{name.title()}Function", function_arn=arn, same_environment=True
            )
            for name, arn in function_arns.items()
        }
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=settings.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        cors = None
        if settings.cors_origins:
            cors = apigateway.CorsOptions(
                allow_origins=list(settings.cors_origins),
                allow_headers=list(cors_rules.ALLOWED_HEADERS),
                allow_methods=list(cors_rules.ALLOWED_METHODS),
                max_age=cdk.Duration.seconds(cors_rules.MAX_AGE_SECONDS),
            )
        self.access_logs = access_logs
        self.api = apigateway.RestApi(
            self,
            "Api",
            rest_api_name=f"{settings.stack_prefix.lower()}-logs",
            description="Central logging service",
            cloud_watch_role=False,  # the account's role is set by the core stack
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Every body reaches the functions base64-encoded: OTLP sends protobuf and gzip,
            # which API Gateway would otherwise mangle as text; the resolvers decode JSON.
            binary_media_types=["*/*"],
            default_cors_preflight_options=cors,
            deploy_options=apigateway.StageOptions(
                stage_name=settings.stage_name,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=access_log_format(),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        for route in ROUTES:
            resource = self.api.root.resource_for_path(route.path)
            resource.add_method(
                route.method,
                # One invoke permission per function for this API (its stages, methods and
                # paths; each function answers only its own routes), not two per route:
                # Lambda's resource policy holds 20 KB, which 21 routes' 42 statements
                # nearly filled.
                apigateway.LambdaIntegration(
                    functions[route.function], scope_permission_to_method=False
                ),
            )
        self._preflight_as_text()
        self._execution_logs(settings)
        self._trace_sampling(settings)
        self._acknowledge_findings()
        self.web_acl = self._web_acl(settings)
        wafv2.CfnWebACLAssociation(
            self,
            "WafAssociation",
            resource_arn=self.api.deployment_stage.stage_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        self._alarm_and_dashboard(core, functions)
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url)

    def _execution_logs(self, settings: DeploymentSettings) -> None:
        """The stage's execution-log group, made here (API Gateway would make it on first use,
        kept for ever and outliving the stack) with the deployment's retention."""
        group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=(
                f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{settings.stage_name}"
            ),
            retention=settings.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.api.deployment_stage.node.add_dependency(group)

    def _trace_sampling(self, settings: DeploymentSettings) -> None:
        """What X-Ray traces of this API's stage (the account's default rule, for requests
        no rule matches: one a second and 5%, at $5 a million traces recorded). Ingest is
        the bulk of the requests and all alike: TRACE_SAMPLING_RATE of them. Every other
        route (searches, the Loki and OTLP pushes, config): one a second, then the same
        rate. Both rules match this stage only (X-Ray names it "api/stage")."""
        service = f"{self.api.rest_api_name}/{settings.stage_name}"
        rules = (  # construct id, rule name, priority, reservoir a second, URL path
            ("TraceSamplingIngest", "ingest", 90, 0, INGEST_TRACE_PATH),
            ("TraceSampling", "api", 100, 1, "*"),
        )
        for construct_id, name, priority, reservoir, path in rules:
            xray.CfnSamplingRule(
                self,
                construct_id,
                sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                    rule_name=f"{settings.stack_prefix.lower()}-{name}"[:32],
                    priority=priority,
                    reservoir_size=reservoir,
                    fixed_rate=TRACE_SAMPLING_RATE,
                    service_name=service,
                    service_type="AWS::ApiGateway::Stage",
                    host="*",
                    http_method="*",
                    url_path=path,
                    resource_arn="*",
                    version=1,
                ),
            )

    def _preflight_as_text(self) -> None:
        """CORS preflights are answered by mock integrations; with every media type binary
        (above), API Gateway fails them with a 500 unless they convert to text."""
        for method in self.api.methods:
            if method.http_method == "OPTIONS":
                method.node.default_child.add_property_override(  # type: ignore[union-attr]
                    "Integration.ContentHandling", "CONVERT_TO_TEXT"
                )

    def _web_acl(self, settings: DeploymentSettings) -> wafv2.CfnWebACL:
        def rate_rule(
            name: str,
            priority: int,
            limit: int,
            scope_down: wafv2.CfnWebACL.StatementProperty | None = None,
        ) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=limit,
                        evaluation_window_sec=60,
                        scope_down_statement=scope_down,
                    )
                ),
                visibility_config=_visibility(name),
            )

        batch_path = wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="ENDS_WITH",  # the stage name comes first
                search_string=BATCH_INGEST_PATH,
                text_transformations=[
                    wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                ],
            )
        )
        rules = []
        if settings.waf_allow_cidrs:
            # Known addresses (a NAT gateway many clients share) skip every other rule.
            allowed = wafv2.CfnIPSet(
                self,
                "AllowedAddresses",
                scope="REGIONAL",
                ip_address_version="IPV4",
                addresses=list(settings.waf_allow_cidrs),
            )
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name="allowed-addresses",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(allow={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                            arn=allowed.attr_arn
                        )
                    ),
                    visibility_config=_visibility("allowed-addresses"),
                )
            )
        rules += [
            rate_rule("batch-ingest-per-ip", 1, settings.batch_rate_limit_per_minute, batch_path),
            rate_rule("api-per-ip", 2, settings.rate_limit_per_minute),
            # Common exploits; its 8 KB body limit would block batch and OTLP ingest, so that
            # one rule only counts (the functions enforce the service's own limits).
            _managed_rules(
                3, "AWSManagedRulesCommonRuleSet", count_only=("SizeRestrictions_BODY",)
            ),
            _managed_rules(4, "AWSManagedRulesKnownBadInputsRuleSet"),
        ]
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("logsvc-api"),
            rules=rules,
        )
        # WAF logs go to a log group whose name starts with aws-waf-logs- (WAF's rule).
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=f"aws-waf-logs-{settings.stack_prefix.lower()}",
            retention=settings.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=acl.attr_arn,
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=waf_logs.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # The Authorization header carries API keys: never logged.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "authorization"}
                )
            ],
            # Only what the rules blocked: a record of every request allowed (about 1.5 KB
            # each) cost more than the service itself at single-entry volumes.
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [
                    {
                        "Behavior": "KEEP",
                        "Requirement": "MEETS_ANY",
                        "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
                    }
                ],
            },
        )
        return acl

    def _acknowledge_findings(self) -> None:
        acknowledge = cdk.Validations.of(self.api).acknowledge
        for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
            acknowledge(cdk.Acknowledgment(id=rule, reason=AUTH_REASON))
        acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-APIG2",
                reason="Bodies and parameters are validated by the functions, which name the "
                "field at fault in the service's error format; API Gateway's validator "
                "would answer in another.",
            )
        )
        acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                reason="API Gateway's account-level logging role needs this AWS-managed policy; "
                "it grants CloudWatch Logs writes only.",
            )
        )

    def _alarm_and_dashboard(
        self, core: CoreStack, functions: dict[str, lambda_.IFunction]
    ) -> None:
        five_minutes = cdk.Duration.minutes(5)
        server_errors = self.api.metric_server_error(period=five_minutes, statistic="Sum")
        alarm(
            self,
            "Api5xxAlarm",
            server_errors,
            threshold=1,
            description="logsvc API answered 5xx",
            topic=core.alarm_topic,
        )
        # The WAF's blocks: a client (or several) past the per-IP limits, or an attack.
        acl_name = cdk.Fn.select(0, cdk.Fn.split("|", self.web_acl.ref))  # Ref: name|id|scope
        alarm(
            self,
            "WafBlocksAlarm",
            cloudwatch.Metric(
                namespace="AWS/WAFV2",
                metric_name="BlockedRequests",
                dimensions_map={"WebACL": acl_name, "Region": cdk.Aws.REGION, "Rule": "ALL"},
                period=five_minutes,
                statistic="Sum",
            ),
            threshold=WAF_BLOCKS_ALARM,
            description=f"logsvc: the WAF blocked {WAF_BLOCKS_ALARM} requests in 5 minutes "
            "(clients past the per-IP limits: the WAF log names them)",
            topic=core.alarm_topic,
        )
        # The stage's own 429s (its throttle; -c throttle_rate_limit): API Gateway counts
        # them among all 4xx, so they are counted from the access log.
        throttled = logs.MetricFilter(
            self,
            "ThrottledRequests",
            log_group=self.access_logs,
            metric_namespace="logsService",
            metric_name="ApiThrottled",
            filter_pattern=logs.FilterPattern.string_value("$.status", "=", "429"),
            metric_value="1",
        )
        alarm(
            self,
            "ApiThrottledAlarm",
            throttled.metric(period=five_minutes, statistic="Sum"),
            threshold=THROTTLED_ALARM,
            description=f"logsvc: the API refused {THROTTLED_ALARM} requests with 429 in 5 "
            "minutes: clients are past the stage's throttle (-c throttle_rate_limit; "
            "docs/OPERATIONS.md)",
            topic=core.alarm_topic,
        )
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{self.stack_name}-logsvc"
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    self.api.metric_count(period=five_minutes),
                    self.api.metric_client_error(period=five_minutes),
                    server_errors,
                ],
            ),
            cloudwatch.GraphWidget(
                title="API latency p95",
                left=[self.api.metric_latency(period=five_minutes, statistic="p95")],
            ),
        )
        dashboard.add_widgets(
            *[
                cloudwatch.GraphWidget(
                    title=f"{name}: invocations, errors, throttles",
                    left=[
                        fn.metric_invocations(period=five_minutes),
                        fn.metric_errors(period=five_minutes),
                        fn.metric_throttles(period=five_minutes),
                    ],
                    right=[fn.metric_duration(period=five_minutes, statistic="p95")],
                )
                for name, fn in functions.items()
            ]
        )


def access_log_format() -> apigateway.AccessLogFormat:
    """One line a request, billed as CloudWatch Logs ingestion per request (docs/COST.md):
    what an on-call engineer needs and no more, in short names (each byte is 300 MB a
    month at 10 M requests a day). The time is the log event's own; the request id joins
    the line to the function's logs and traces; ``bytes`` is the answer's length, ``ms``
    the time to answer."""
    return apigateway.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": "$context.requestId",
                "ip": "$context.identity.sourceIp",
                "method": "$context.httpMethod",
                "route": "$context.resourcePath",
                "status": "$context.status",
                "bytes": "$context.responseLength",
                "ms": "$context.responseLatency",
            },
            separators=(",", ":"),
        )
    )


def _managed_rules(
    priority: int, name: str, count_only: tuple[str, ...] = ()
) -> wafv2.CfnWebACL.RuleProperty:
    """An AWS managed rule group, with some of its rules only counting."""
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in count_only
                ]
                or None,
            )
        ),
        visibility_config=_visibility(name),
    )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )
