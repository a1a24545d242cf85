"""Request and response models of the keys API (the config function's alone, so the
other functions do not build them at start-up)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from logsvc.entries import ServiceName


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Literal["ingest", "read", "admin"]], Field(min_length=1)]
    # An empty list would read as "no limit" further down: refused, never widened.
    services: Annotated[list[ServiceName], Field(min_length=1)] | None = Field(
        default=None,
        description="Limit the key to these services (at least one); absent: all services",
    )


class ApiKeyView(BaseModel):
    id: str
    name: str
    scopes: list[str]
    services: list[str] | None
    created_at: int
    revoked_at: int | None


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="Shown once; only a hash of it is kept")


class ApiKeysResponse(BaseModel):
    keys: list[ApiKeyView]
