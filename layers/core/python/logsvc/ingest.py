"""The ingest pipeline: validate and normalise -> assign ids -> archive -> index.

The archive is written first: if indexing then fails, the request fails and the client
retries; nothing indexed ever points at a missing archive object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from logsvc.archive import LogArchive
from logsvc.clock import DAY_MS, now_ms
from logsvc.entries import LogEntry, LogInput, metadata_json, metadata_problem
from logsvc.errors import ApiError, BadRequest, Forbidden, TooManyRequests
from logsvc.quotas import seconds_until_next_utc_day
from logsvc.store.logs import LogStore
from logsvc.validation import first_problem

if TYPE_CHECKING:
    from logsvc.ingest_queue import IngestQueue
    from logsvc.quotas import Quotas
    from logsvc.redaction import Redactor
    from logsvc.stream.publisher import Publisher

MAX_BATCH_ITEMS = 1000
MAX_FUTURE_MS = DAY_MS  # later timestamps are refused: retention could never apply
FUTURE_TIMESTAMP = (
    "timestamp: more than 24 hours in the future (a clock or unit error? timestamps are "
    "Unix milliseconds)"
)
MAX_OTLP_RECORDS = 10_000  # an OTLP request is one exporter batch, often a few hundred


@dataclass
class IngestOutcome:
    """What a batch ingest stored and what it refused (with the item's index and why)."""

    ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, index: int, field_name: str, message: str, status: int = 400) -> None:
        """Report an item that is not stored, and the status it alone would get."""
        self.errors.append(
            {"index": index, "field": field_name, "error": message, "status": status}
        )

    def refusal(self) -> ApiError:
        """Why nothing was stored, as the error a client should get (400, 403 or 429)."""
        first = self.errors[0]
        status = first["status"]
        if status == 429:
            return TooManyRequests(
                first["error"],
                retry_after=seconds_until_next_utc_day(now_ms()),
                field=first["field"],
            )
        error = Forbidden if status == 403 else BadRequest
        return error(first["error"], field=first["field"])


class Ingestor:
    def __init__(
        self,
        archive: LogArchive,
        logs: LogStore,
        clock: Callable[[], int] = now_ms,
        publisher: Publisher | None = None,
        queue: IngestQueue | None = None,
        quotas: Quotas | None = None,
        redactor: Redactor | None = None,
    ):
        self.archive = archive
        self.logs = logs
        self.clock = clock
        self.publisher = publisher  # live tail, when a stream endpoint is configured
        self.queue = queue  # buffered ingest: entries go to SQS, the writer stores them
        self.quotas = quotas  # max_logs_per_day
        self.redactor = redactor if redactor is not None and redactor.active else None

    def ingest_one(
        self,
        item: LogInput,
        source_type: str = "http",
        idempotency_key: str | None = None,
        allowed: Callable[[str], bool] | None = None,
    ) -> str:
        outcome = self.ingest_batch([item.model_dump()], source_type, idempotency_key, allowed)
        if outcome.errors:
            raise outcome.refusal()
        return outcome.ids[0]

    def ingest_batch(
        self,
        items: Sequence[Any],
        source_type: str = "http",
        idempotency_key: str | None = None,
        allowed: Callable[[str], bool] | None = None,
    ) -> IngestOutcome:
        """Store the valid items, report the invalid ones; nothing is stored for those.

        ``allowed`` says which services the caller may write to; with quotas, a service's
        entries beyond its max_logs_per_day for today are refused.
        """
        now = self.clock()
        outcome = IngestOutcome()
        entries: list[tuple[int, LogEntry]] = []
        for index, item in enumerate(items):
            try:
                entry = self.to_entry(LogInput.model_validate(item), now, source_type)
            except ValidationError as exc:
                outcome.refuse(index, *first_problem(exc.errors()))
                continue
            entry.metadata_json = metadata_json(entry.metadata)
            problem = metadata_problem(entry.metadata, entry.metadata_json)
            if problem is not None:
                outcome.refuse(index, "metadata", problem)
            elif entry.timestamp > now + MAX_FUTURE_MS:
                outcome.refuse(index, "timestamp", FUTURE_TIMESTAMP)
            elif allowed is not None and not allowed(entry.service_name):
                message = f"service_name: this key may not write to {entry.service_name!r}"
                outcome.refuse(index, "service_name", message, status=403)
            else:
                entries.append((index, entry))
        if self.redactor is not None:  # before anything is stored, queued or streamed
            self.redactor.redact_entries([entry for _, entry in entries])
        if self.quotas is not None:
            entries, refused = self.quotas.admit(entries, now)
            for index, entry, limit in refused:
                message = (
                    f"service_name: {entry.service_name!r} reached its quota of {limit} logs "
                    "for today (UTC)"
                )
                outcome.refuse(index, "service_name", message, status=429)
            outcome.errors.sort(key=lambda error: error["index"])
        stored = self.store([entry for _, entry in entries], idempotency_key)
        outcome.ids = [entry.id for entry in stored]
        return outcome

    def store(self, entries: list[LogEntry], idempotency_key: str | None = None) -> list[LogEntry]:
        """Archive, then index; return the entries with the ids the index gave them.

        With an idempotency key, a retry of the same request (after a timeout, a 503, or a
        crash between archiving and indexing) stores nothing twice.
        """
        if not entries:
            return []
        if self.queue is not None:
            return self.queue.enqueue(entries, idempotency_key)
        batch = self.logs.prepare(entries, idempotency_key)
        archive_keys = self.archive.archive_batch(batch.entries, idempotency_key)
        self.logs.write(batch, archive_keys)
        if self.publisher is not None:
            self.publisher.publish(batch.entries)
        return batch.entries

    @staticmethod
    def to_entry(item: LogInput, now: int, source_type: str) -> LogEntry:
        return LogEntry(
            id="",  # given by the log store, whose layout the id points into
            service_name=item.service_name,
            level=item.level,
            message=item.message,
            timestamp=item.timestamp if item.timestamp is not None else now,
            metadata=item.metadata or {},
            source_type=source_type,
        )
