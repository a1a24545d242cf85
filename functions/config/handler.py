"""Config function: read and change per-service retention, alerting and daily limits."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import runtime
from logsvc.api.models import ConfigsResponse, ConfigUpdate, ServiceConfigView
from logsvc.api.resolver import new_resolver
from logsvc.clock import now_ms
from logsvc.entries import ServiceName

logger = Logger(service="logsService-config")
app = new_resolver(logger)


@app.get("/api/v1/logs/config/<service>")
def get_config(service: Annotated[ServiceName, Path()]) -> ServiceConfigView:
    return runtime.config_store().get(service).view(runtime.settings().retention_defaults)


@app.put("/api/v1/logs/config/<service>")
def put_config(service: Annotated[ServiceName, Path()], update: ConfigUpdate) -> ServiceConfigView:
    changes = update.model_dump(exclude_unset=True)
    config = runtime.config_store().update(service, changes, now_ms())
    return config.view(runtime.settings().retention_defaults)


@app.get("/api/v1/logs/configs")
def list_configs() -> ConfigsResponse:
    defaults = runtime.settings().retention_defaults
    return ConfigsResponse(configs=[c.view(defaults) for c in runtime.config_store().list()])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
