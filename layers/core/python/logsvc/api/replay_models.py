"""The replay route's request and answer (apart: only the search function builds them)."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

from logsvc.entries import ServiceName


class ReplayUrl(BaseModel):
    """Another logsvc (its base URL), an OTLP/HTTP logs URL, or a Loki push URL."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    format: Literal["logsvc", "otlp", "loki"] = "logsvc"
    api_key: SecretStr | None = Field(
        default=None, description="Sent as a Bearer key; never stored or logged"
    )


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: ServiceName
    start_time: int = Field(ge=0, description="Unix ms")
    end_time: int = Field(ge=0, description="Unix ms")
    to: ReplayUrl | Literal["index"] = Field(
        description='Where to send the entries; "index": back into this index (only entries '
        "that have left its hot window)"
    )


class ReplayResponse(BaseModel):
    service: str
    start_time: int
    end_time: int
    target: str
    entries: int
    batches: int
    complete: bool = Field(description="False: stopped for time; replay again from next_start_time")
    next_start_time: int | None
