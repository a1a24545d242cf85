"""What the ingest routes answer for an outcome: refusal kinds as HTTP statuses."""

from __future__ import annotations

from typing import Any

from logsvc.clock import now_ms
from logsvc.errors import ApiError, BadRequest, Forbidden, TooManyRequests
from logsvc.ingest import IngestOutcome, Refusal, Refused
from logsvc.quotas import seconds_until_next_utc_day

STATUS = {Refusal.INVALID: 400, Refusal.FORBIDDEN: 403, Refusal.OVER_QUOTA: 429}


def item_errors(outcome: IngestOutcome) -> list[dict[str, Any]]:
    """The refused items as a batch answer lists them, each with the status it alone gets."""
    return [
        {"index": r.index, "field": r.field, "error": r.message, "status": STATUS[r.kind]}
        for r in outcome.refused
    ]


def refusal_error(refused: Refused) -> ApiError:
    """Why nothing was stored, as the error a client gets (400, 403 or 429)."""
    if refused.kind is Refusal.OVER_QUOTA:
        return TooManyRequests(
            refused.message,
            retry_after=seconds_until_next_utc_day(now_ms()),
            field=refused.field,
        )
    error = Forbidden if refused.kind is Refusal.FORBIDDEN else BadRequest
    return error(refused.message, field=refused.field)
