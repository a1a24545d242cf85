"""Receipts of Idempotency-Keys: one protocol, kept by whatever holds acknowledged entries.

A request sent again with its Idempotency-Key gets the ids it got the first time and stores
nothing twice; the same key with another body is refused (409). Each buffer keeps its
receipts where it keeps its entries, so a receipt and the entries it stands for are stored
together: the local buffer file, the coordination table beside Kinesis, the index itself
when ingest writes straight through (logsvc.buffer.direct). All keep one for RECEIPT_TTL_MS.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from logsvc.errors import ApiError

# Clients retry within minutes; a day covers a retry queue that waited out an outage.
RECEIPT_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Receipt:
    """What an Idempotency-Key promises, for one request: its ids."""

    scope: str  # a hash of the caller's key id, the route and the Idempotency-Key
    body_hash: str
    ids: tuple[str, ...]


class IdempotencyConflict(ApiError):
    status_code = 409

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key: already used by this key for a request with another body; "
            "send a new key for new entries",
            field="Idempotency-Key",
        )


def replayed_ids(receipt: Receipt, body_hash: str, ids_json: str | bytes) -> list[str]:
    """The ids stored for an earlier request with this receipt's key, or a conflict."""
    if body_hash != receipt.body_hash:
        raise IdempotencyConflict()
    return list(orjson.loads(ids_json))
