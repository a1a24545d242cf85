"""The writer: the one place entries are archived and indexed.

Everything ingest acknowledges reaches it through the buffer (logsvc.buffer): drained in
large batches from the local buffer file or Kinesis (``flush``), or handed over at once
when ingest writes straight through (``store``, logsvc.buffer.direct); replay brings
archived entries back into the index through it too (``store`` with ``replayed``).

One store is: sample -> pack into blocks (service and source, close in time) -> archive one
object per service -> index every block, with the statements that go with them (a flush's
checkpoint, a request's receipt, sampling's tally), in one D1 request -> publish to live
tail. Names derive from a batch key (a flush's stream and first position, an
Idempotency-Key), so a store retried after a crash rewrites the same objects and blocks
and stores nothing twice. In a flush, a block the index refuses (a poison entry) is set
aside as a dead letter and the rest is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logsvc.archive import LogArchive
from logsvc.clock import now_ms
from logsvc.entries import LogEntry
from logsvc.sampling import Sampler
from logsvc.sql import SqlError, Statement
from logsvc.store.log_index import Block, Checkpoint, LogIndex, PreparedBatch

if TYPE_CHECKING:
    from logsvc.live_tail.publisher import Publisher

logger = logging.getLogger(__name__)

# (position, entries): a local buffer row holds one entry, a Kinesis record several.
BufferRecord = tuple[int, Sequence[LogEntry]]
DeadLetters = Callable[[list[tuple[int, LogEntry]], str], None]


@dataclass(frozen=True)
class FlushResult:
    stored: int  # entries indexed by this flush
    skipped: int  # entries at or before the checkpoint: stored by an earlier try
    dead_letters: int
    last_position: int | None


class Writer:
    def __init__(
        self,
        archive: LogArchive,
        logs: LogIndex,
        dead_letters: DeadLetters | None = None,
        publisher: Publisher | None = None,
        clock: Callable[[], int] = now_ms,
        sampler: Sampler | None = None,
    ):
        self.archive = archive
        self.logs = logs
        self.dead_letters = dead_letters or _nowhere
        self.publisher = publisher
        self.sampler = sampler
        self.clock = clock
        self._checkpoints: dict[str, int | None] = {}  # read once per stream while warm

    def store(
        self,
        entries: list[LogEntry],
        key: str | None = None,
        also: Sequence[Statement] = (),
        *,
        replayed: bool = False,
    ) -> list[LogEntry]:
        """Archive and index entries (which carry their ids) with ``also`` in the same
        request, then publish them; return the entries kept by sampling. Replayed entries
        come from the archive: they are indexed again, not archived or published again."""
        batch, archive_keys, also = self._prepare(entries, key, also, replayed)
        # A replay is retried by running it again: its blocks must keep their derived ids.
        batch.appendable = not replayed
        self.logs.write(batch, archive_keys, also)
        if not replayed:
            self._publish(batch.entries)
        return batch.entries

    def redrive(self, entries: list[LogEntry], key: str) -> list[LogEntry]:
        """Store a batch the stream gave up on (logsvc.buffer.redrive): archived and indexed
        under names derived from ``key`` and never appended to open blocks, so a redrive
        run again after a failure stores nothing twice; not published (it is old news)."""
        batch, archive_keys, also = self._prepare(entries, key, (), replayed=False)
        batch.appendable = False
        self.logs.write(batch, archive_keys, also)
        return batch.entries

    def flush(self, stream: str, records: Sequence[BufferRecord]) -> FlushResult:
        if not records:
            return FlushResult(0, 0, 0, None)
        if stream not in self._checkpoints:
            self._checkpoints[stream] = self.logs.checkpoint(stream)
        done = self._checkpoints[stream]
        fresh = [(p, e) for p, entries in records if done is None or p > done for e in entries]
        skipped = sum(len(entries) for p, entries in records) - len(fresh)
        last = max(position for position, _ in records)
        if not fresh:
            return FlushResult(0, skipped, 0, last)
        checkpoint = Checkpoint(stream, last, self.clock())
        # Sampling's count is written with the checkpoint: a retried flush never adds twice.
        batch, archive_keys, also = self._prepare(
            [entry for _, entry in fresh], f"{stream}:{fresh[0][0]}", (), replayed=False
        )
        dead = 0
        try:
            self.logs.write(batch, archive_keys, also, checkpoint=checkpoint)
        except SqlError:
            # Some block is refused: store the others one by one, set the refused aside.
            self._checkpoints.pop(stream, None)
            dead = self._write_apart(batch.blocks, fresh, archive_keys, checkpoint)
        except BaseException:
            self._checkpoints.pop(stream, None)  # read it again before the next try
            raise
        self._checkpoints[stream] = last
        self._publish(batch.entries)
        return FlushResult(len(batch.entries) - dead, skipped, dead, last)

    def _prepare(
        self, entries: list[LogEntry], key: str | None, also: Sequence[Statement], replayed: bool
    ) -> tuple[PreparedBatch, dict[str, str], list[Statement]]:
        """Sample, pack and (unless replayed) archive: the batch, its archive objects, and
        what goes with it to the index."""
        entries, left_out = self.sampler.split(entries) if self.sampler else (entries, {})
        batch = self.logs.prepare(entries, key)
        archive_keys = {} if replayed else self.archive.archive_batch(entries, key)
        return batch, archive_keys, [*also, *self.logs.tally_statements(left_out)]

    def _publish(self, entries: list[LogEntry]) -> None:
        if self.publisher is not None and entries:
            self.publisher.publish(entries)

    def _write_apart(
        self,
        blocks: list[Block],
        fresh: list[tuple[int, LogEntry]],
        archive_keys: dict[str, str],
        checkpoint: Checkpoint,
    ) -> int:
        dead = 0
        for block in blocks:
            try:
                self.logs.write(PreparedBatch([], [block], False), archive_keys)
            except SqlError as exc:
                ids = set(block.ids)
                refused = [(p, e) for p, e in fresh if e.id in ids]
                logger.error(
                    "index refused a block; its entries are dead letters",
                    extra={"entries": len(refused), "reason": str(exc)},
                )
                self.dead_letters(refused, str(exc))
                dead += len(refused)
        self.logs.write(PreparedBatch([], []), archive_keys, checkpoint=checkpoint)
        return dead


def _nowhere(entries: list[tuple[int, LogEntry]], reason: str) -> None:
    raise RuntimeError(f"no dead-letter place (WRITER_DEAD_LETTER_QUEUE_URL) for: {reason}")
