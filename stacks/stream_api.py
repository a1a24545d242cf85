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
    settings: DeploymentSettings, partition: str, region: str, account: str
) -> str:
    """Posting to connections of the stage's WebSocket APIs. The API id is left open: the
    ingest stack would otherwise name it through a cross-stack import whose name CDK
    derives, and connection ids are only known at run time anyway."""
    return (
        f"arn:{partition}:execute-api:{region}:{account}:*/{settings.stage_name}"
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
        self.callback_url = self.stage.callback_url  # https://: the management API
        self.manage_connections_arn = manage_connections_arn(
            settings, cdk.Aws.PARTITION, cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID
        )
        cdk.CfnOutput(scope, "LiveTailUrl", value=self.stage.url)
