"""The ingest pipeline, as named steps:

check -> authorize -> replay (Idempotency-Key) -> redact -> admit (quotas) -> number (ids)
-> store.

"Store" is always an append to the buffer (logsvc.buffer): a durable one that the writer
drains (a local file, Kinesis; the default whenever the index is D1), or the direct one
that hands the entries to the writer at once (a SQLite index). Only the writer archives and
indexes (logsvc.writer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from logsvc.clock import DAY_MS, now_ms
from logsvc.entries import LogEntry, LogInput, metadata_json, metadata_problem
from logsvc.ids import derived_entry_id, entry_id
from logsvc.problems import first_problem
from logsvc.receipts import Receipt

if TYPE_CHECKING:
    from logsvc.buffer import LogBuffer
    from logsvc.quotas import Quotas
    from logsvc.redaction import Redactor

MAX_FUTURE_MS = DAY_MS  # later timestamps are refused: retention could never apply
FUTURE_TIMESTAMP = (
    "timestamp: more than 24 hours in the future (a clock or unit error? timestamps are "
    "Unix milliseconds)"
)


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key, scoped to the caller and the route, and the request's body."""

    key: str
    scope: str
    body_hash: str

    @classmethod
    def of(cls, key: str, caller: str, route: str, body: bytes | str) -> Idempotency:
        scope = hashlib.sha256(f"{caller}\x00{route}\x00{key}".encode()).hexdigest()
        raw = body.encode() if isinstance(body, str) else body
        return cls(key, scope, hashlib.sha256(raw).hexdigest())

    def receipt(self, ids: Sequence[str]) -> Receipt:
        return Receipt(self.scope, self.body_hash, tuple(ids))


class Refusal(StrEnum):
    """Why an item was not stored; the HTTP layer turns each into a status."""

    INVALID = "invalid"  # the item breaks a data rule
    FORBIDDEN = "forbidden"  # the key may not write to its service
    OVER_QUOTA = "over_quota"  # the service reached max_logs_per_day


@dataclass(frozen=True)
class Refused:
    index: int  # the item's place in the request
    field: str
    message: str
    kind: Refusal


@dataclass
class IngestOutcome:
    """What a batch ingest stored (their ids) and what it refused."""

    ids: list[str] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    def refuse(
        self, index: int, field_name: str, message: str, kind: Refusal = Refusal.INVALID
    ) -> None:
        self.refused.append(Refused(index, field_name, message, kind))
        self.refused.sort(key=lambda refused: refused.index)


Placed = list[tuple[int, LogEntry]]  # entries with their place in the request


class Ingestor:
    def __init__(
        self,
        buffer: LogBuffer,
        quotas: Quotas | None = None,
        redactor: Redactor | None = None,
        clock: Callable[[], int] = now_ms,
    ):
        self.buffer = buffer  # where acknowledged entries are held (logsvc.buffer)
        self.quotas = quotas  # max_logs_per_day
        self.redactor = redactor if redactor is not None and redactor.active else None
        self.clock = clock

    def ingest_batch(
        self,
        items: Sequence[Any],
        source_type: str = "http",
        idempotency: Idempotency | None = None,
        allowed: Callable[[str], bool] | None = None,
    ) -> IngestOutcome:
        """Store the valid items, report the invalid ones; nothing is stored for those.

        ``allowed`` says which services the caller may write to; with quotas, a service's
        entries beyond its max_logs_per_day for today are refused.
        """
        now = self.clock()
        outcome = IngestOutcome()
        entries = self.check(items, now, source_type, outcome)
        entries = self.authorize(entries, allowed, outcome)
        if idempotency is not None:
            earlier = self.replay(idempotency)
            if earlier is not None:
                outcome.ids = earlier
                return outcome
        if self.redactor is not None:  # before anything is stored, buffered or streamed
            self.redact([entry for _, entry in entries])
        entries = self.admit(entries, now, outcome)
        self.number(entries, idempotency)
        admitted = [entry for _, entry in entries]
        try:
            outcome.ids = self.store(admitted, idempotency)
        except BaseException:
            if self.quotas is not None:  # nothing stored: nothing counted
                self.quotas.release(admitted, now)
            raise
        return outcome

    # The steps.

    def check(
        self, items: Sequence[Any], now: int, source_type: str, outcome: IngestOutcome
    ) -> Placed:
        """Each item as an entry, or refused: the model, the metadata limits, the time."""
        entries: Placed = []
        for index, item in enumerate(items):
            try:
                parsed = item if isinstance(item, LogInput) else LogInput.model_validate(item)
            except ValidationError as exc:
                outcome.refuse(index, *first_problem(exc.errors()))
                continue
            entry = to_entry(parsed, now, source_type)
            entry.metadata_json = metadata_json(entry.metadata)
            problem = metadata_problem(entry.metadata, entry.metadata_json)
            if problem is not None:
                outcome.refuse(index, "metadata", problem)
            elif entry.timestamp > now + MAX_FUTURE_MS:
                outcome.refuse(index, "timestamp", FUTURE_TIMESTAMP)
            else:
                entries.append((index, entry))
        return entries

    @staticmethod
    def authorize(
        entries: Placed, allowed: Callable[[str], bool] | None, outcome: IngestOutcome
    ) -> Placed:
        if allowed is None:
            return entries
        kept: Placed = []
        for index, entry in entries:
            if allowed(entry.service_name):
                kept.append((index, entry))
            else:
                message = f"service_name: this key may not write to {entry.service_name!r}"
                outcome.refuse(index, "service_name", message, Refusal.FORBIDDEN)
        return kept

    def redact(self, entries: list[LogEntry]) -> None:
        """Mask secrets; an entry whose metadata changed is serialised again."""
        assert self.redactor is not None
        for entry in self.redactor.redact_entries(entries):
            entry.metadata_json = metadata_json(entry.metadata)

    def replay(self, idempotency: Idempotency) -> list[str] | None:
        """The ids a request with this key and body got before (409 if the body differs)."""
        return self.buffer.recall(idempotency.receipt(()))

    def admit(self, entries: Placed, now: int, outcome: IngestOutcome) -> Placed:
        if self.quotas is None:
            return entries
        admitted, refused = self.quotas.admit(entries, now)
        for index, entry, limit in refused:
            message = (
                f"service_name: {entry.service_name!r} reached its quota of {limit} logs "
                "for today (UTC)"
            )
            outcome.refuse(index, "service_name", message, Refusal.OVER_QUOTA)
        return admitted

    @staticmethod
    def number(entries: Placed, idempotency: Idempotency | None) -> None:
        """Give each entry its id: final, whatever block the writer puts it in."""
        for position, (_, entry) in enumerate(entries):
            entry.id = (
                # The caller-scoped key: two callers' same key never gives the same ids.
                derived_entry_id(entry.timestamp, idempotency.scope, str(position))
                if idempotency is not None
                else entry_id(entry.timestamp)
            )

    def record(self, entries: list[LogEntry]) -> list[str]:
        """Number and store entries the service writes about itself (agent logs)."""
        self.number(list(enumerate(entries)), None)
        return self.store(entries)

    def store(self, entries: list[LogEntry], idempotency: Idempotency | None = None) -> list[str]:
        """Hand the entries to the buffer; return their ids (or an earlier request's)."""
        if not entries:
            return []
        ids = [entry.id for entry in entries]
        receipt = idempotency.receipt(ids) if idempotency is not None else None
        earlier = self.buffer.append(entries, receipt)
        return earlier if earlier is not None else ids


def to_entry(item: LogInput, now: int, source_type: str) -> LogEntry:
    return LogEntry(
        id="",  # given by the number step
        service_name=item.service_name,
        level=item.level,
        message=item.message,
        timestamp=_milliseconds(item, now),
        metadata=item.metadata or {},
        source_type=source_type,
        timestamp_ns=item.timestamp_ns,
    )


def _milliseconds(item: LogInput, now: int) -> int:
    if item.timestamp_ns is not None:
        return item.timestamp_ns // 1_000_000
    return item.timestamp if item.timestamp is not None else now
