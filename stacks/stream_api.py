"""The live-tail WebSocket API: $connect, $disconnect and subscribe, all to one function."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import WebSocketLambdaIntegration
from constructs import Construct

from logsvc.routes import STREAM_ROUTES
from stacks.settings import DeploymentSettings

AUTH_REASON = (
    "$connect checks the Bearer key (header, ?token= or subprotocol) in the stream function "
    "with a constant-time comparison and refuses the connection otherwise."
)


def manage_connections_arn(
    settings: DeploymentSettings, partition: str, region: str, account: str, api_id: str
) -> str:
    """Posting to connections of this WebSocket API's stage (connection ids are known at
    run time only)."""
    return (
        f"arn:{partition}:execute-api:{region}:{account}:{api_id}/{settings.stage_name}"
        "/POST/@connections/*"
    )


MANAGE_REASON = (
    "Only POST to WebSocket connections of this stage; connection ids exist at run time only."
)


class StreamApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        settings: DeploymentSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        integration = WebSocketLambdaIntegration("Stream", function)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            api_name=f"{settings.stack_prefix.lower()}-live-tail",
            route_selection_expression="$request.body.action",
            connect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration),
        )
        for route in STREAM_ROUTES:
            if not route.startswith("$"):
                self.api.add_route(route, integration=integration)
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=settings.log_retention,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=settings.stage_name,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.throttle_rate_limit, burst_limit=settings.throttle_burst_limit
            ),
        )
        stage = self.stage.node.default_child
        stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn,
            format='{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"route":"$context.routeKey","status":"$context.status",'
            '"connectionId":"$context.connectionId"}',
        )
        for rule in ("AwsSolutions::AwsSolutions-APIG4", "AwsSolutions::AwsSolutions-COG4"):
            cdk.Validations.of(self.api).acknowledge(
                cdk.Acknowledgment(id=rule, reason=AUTH_REASON)
            )
        self.settings = settings
        # Other stacks reach this API by an export of a fixed name, not one CDK derives.
        self.export_name = f"{settings.stack_prefix}-LiveTailApiId"
        cdk.CfnOutput(scope, "LiveTailApiId", value=self.api.api_id, export_name=self.export_name)
        cdk.CfnOutput(scope, "LiveTailUrl", value=self.stage.url)

    def api_id_in(self, stack: cdk.Stack) -> str:
        """The API's id as ``stack`` refers to it: a reference here, an import elsewhere."""
        if stack is cdk.Stack.of(self):
            return self.api.api_id
        return cdk.Fn.import_value(self.export_name)

    def callback_url_in(self, stack: cdk.Stack) -> str:
        """The management API (https://) of the stage."""
        return (
            f"https://{self.api_id_in(stack)}.execute-api.{cdk.Aws.REGION}."
            f"{cdk.Aws.URL_SUFFIX}/{self.settings.stage_name}"
        )

    def client_url_in(self, stack: cdk.Stack) -> str:
        """The address clients connect to (wss://) of the stage."""
        return (
            f"wss://{self.api_id_in(stack)}.execute-api.{cdk.Aws.REGION}."
            f"{cdk.Aws.URL_SUFFIX}/{self.settings.stage_name}"
        )

    def manage_connections_arn_in(self, stack: cdk.Stack) -> str:
        return manage_connections_arn(
            self.settings,
            cdk.Aws.PARTITION,
            cdk.Aws.REGION,
            cdk.Aws.ACCOUNT_ID,
            self.api_id_in(stack),
        )
