"""The ask route's request and answer (apart: only the ask function builds them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from logsvc.ask import MAX_QUESTION_CHARS
from logsvc.entries import ServiceName


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description='In plain words: "checkout errors about timeouts in the last hour"',
    )
    service: ServiceName | None = Field(
        default=None, description="Narrow the question to this service (one the key may read)"
    )
    time_zone: str = Field(
        default="UTC",
        max_length=64,
        description='IANA time zone for "since 9am", "yesterday" (Europe/Paris)',
    )


class ModelUsage(BaseModel):
    latency_ms: int
    input_tokens: int
    output_tokens: int


class AskResponse(BaseModel):
    question: str
    logql: str = Field(description="Runs unchanged on /loki/api/v1/query_range")
    start: int = Field(description="Unix ms (query_range reads nanoseconds: append 000000)")
    end: int = Field(description="Unix ms, exclusive")
    step: str | None = Field(default=None, description="A metric's step, as query_range reads it")
    kind: Literal["logs", "metric", "patterns"]
    explanation: str
    translator: str = Field(description='"words" (the built-in rules) or the model\'s name')
    result: Any = Field(
        description="query_range's data (streams or matrix); for patterns, "
        "/loki/api/v1/patterns' data"
    )
    model: ModelUsage | None = None


class NotUnderstoodResponse(BaseModel):
    success: Literal[False] = False
    error: str
    field: str = "question"
    suggestions: list[str]
