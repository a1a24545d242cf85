"""The writer: drains the buffer in large batches into the archive and the index.

One flush is: skip what the checkpoint says is stored -> sample -> pack into blocks (service, level,
source, time bucket) -> archive one object per service -> index every block and the
checkpoint in one D1 request -> publish to live tail. Names derive from the flush's stream
and first position, so a flush retried after a crash rewrites the same objects and blocks
and stores nothing twice. A block the index refuses (a poison entry) is set aside as a
dead letter and the rest is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logsvc.archive import LogArchive
from logsvc.clock import now_ms
from logsvc.entries import LogEntry
from logsvc.sampling import Sampler, tally_statements
from logsvc.sql import SqlError, Statement
from logsvc.store.log_index import Block, Checkpoint, LogIndex, PreparedBatch

if TYPE_CHECKING:
    from logsvc.stream.publisher import Publisher

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
        dead_letters: DeadLetters,
        publisher: Publisher | None = None,
        clock: Callable[[], int] = now_ms,
        sampler: Sampler | None = None,
    ):
        self.archive = archive
        self.logs = logs
        self.dead_letters = dead_letters
        self.publisher = publisher
        self.sampler = sampler
        self.clock = clock
        self._checkpoints: dict[str, int | None] = {}  # read once per stream while warm

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
        key = f"{stream}:{fresh[0][0]}"
        entries = [entry for _, entry in fresh]
        # Sampling's count is written with the checkpoint: a retried flush never adds twice.
        entries, left_out = self.sampler.split(entries) if self.sampler else (entries, {})
        batch = self.logs.prepare(entries, key)
        archive_keys = self.archive.archive_batch(entries, key)
        checkpoint = Checkpoint(stream, last)
        dead = 0
        try:
            also = [self._checkpoint(checkpoint), *tally_statements(left_out)]
            self.logs.write(batch, archive_keys, also)
        except SqlError:
            # Some block is refused: store the others one by one, set the refused aside.
            self._checkpoints.pop(stream, None)
            dead = self._write_apart(batch.blocks, fresh, archive_keys, checkpoint)
        except BaseException:
            self._checkpoints.pop(stream, None)  # read it again before the next try
            raise
        self._checkpoints[stream] = last
        if self.publisher is not None:
            self.publisher.publish(entries)
        return FlushResult(len(entries) - dead, skipped, dead, last)

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
                self.logs.write(PreparedBatch([], [block]), archive_keys)
            except SqlError as exc:
                ids = set(block.ids)
                refused = [(p, e) for p, e in fresh if e.id in ids]
                logger.error(
                    "index refused a block; its entries are dead letters",
                    extra={"entries": len(refused), "reason": str(exc)},
                )
                self.dead_letters(refused, str(exc))
                dead += len(refused)
        self.logs.write(PreparedBatch([], []), archive_keys, [self._checkpoint(checkpoint)])
        return dead

    def _checkpoint(self, checkpoint: Checkpoint) -> Statement:
        return self.logs.checkpoint_statement(checkpoint, self.clock())
