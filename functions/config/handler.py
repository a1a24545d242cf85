"""Config function: per-service retention, alerting and daily limits; scoped API keys."""

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsvc import components
from logsvc.api.key_models import ApiKeyCreated, ApiKeyRequest, ApiKeysResponse, ApiKeyView
from logsvc.api.models import (
    ConfigsResponse,
    ConfigUpdate,
    ServiceConfigView,
)
from logsvc.api.resolver import new_resolver, principal, with_errors
from logsvc.clock import now_ms
from logsvc.entries import ServiceName
from logsvc.errors import Forbidden, NotFound
from logsvc.startup import settled

logger = Logger(service="logsService-config")
app = new_resolver(
    logger, authenticator=components.authenticate, cors_origins=components.cors_origins
)
ServicePath = Annotated[ServiceName, Path()]


@app.get("/api/v1/logs/config/<service>")
def get_config(service: ServicePath) -> ServiceConfigView:
    principal(app).require_service(service)
    return components.config_store().get(service).view(components.settings().retention_defaults)


@app.put("/api/v1/logs/config/<service>")
def put_config(service: ServicePath, update: ConfigUpdate) -> ServiceConfigView:
    principal(app).require_service(service)
    changes = update.model_dump(exclude_unset=True)
    config = components.config_store().update(service, changes, now_ms())
    return config.view(components.settings().retention_defaults)


@app.get("/api/v1/logs/configs")
def list_configs() -> ConfigsResponse:
    defaults = components.settings().retention_defaults
    caller = principal(app)
    return ConfigsResponse(
        configs=[
            c.view(defaults)
            for c in components.config_store().list()
            if caller.may_use(c.service_name)
        ]
    )


def require_key_admin() -> None:
    if principal(app).services is not None:
        raise Forbidden(
            "keys can only be managed with an admin key for all services", field="Authorization"
        )


@app.post("/api/v1/admin/keys", status_code=201)
def create_key(request: ApiKeyRequest) -> ApiKeyCreated:
    """The key is shown once, here; only its hash is stored."""
    require_key_admin()
    key, view = components.keys().create(request.name, request.scopes, request.services, now_ms())
    return ApiKeyCreated(key=key, **view)


@app.get("/api/v1/admin/keys")
def list_keys() -> ApiKeysResponse:
    require_key_admin()
    return ApiKeysResponse(keys=components.keys().list())


@app.delete("/api/v1/admin/keys/<key_id>", responses=with_errors({404: "No such key"}))
def revoke_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]) -> ApiKeyView:
    require_key_admin()
    if not components.keys().revoke(key_id, now_ms()):
        raise NotFound(f"key_id: no active key {key_id!r}", field="key_id")
    return components.keys().get(key_id)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


settled()  # the last line: after everything the module loaded (logsvc.startup)
