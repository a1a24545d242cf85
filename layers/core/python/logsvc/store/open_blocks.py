"""Blocks that fill across flushes: what keeps quiet services from spending a page per flush.

The writer stores what it has every few seconds (the 5-second visibility promise), so a
service logging a few entries a second would write a block of a few entries per flush,
each row with its two index entries and most of a page: about 370 bytes per log instead
of about 195 in full blocks. Instead, the writer keeps each service's newest small block
open (in this instance's memory) and appends the next flush's entries to it, until it
holds OPEN_BLOCK_ENTRIES or reaches a block's limits. An append is one statement that
sends the entries once: the same three rows written (the row, two index entries) as the
new block it replaces, the bytes of one full block.

An append happens only while the block is exactly as this instance last wrote it (its
entry count, unsealed): if it changed or went (expiry, the size budget, cleanup's sweep
of blocks left open), the same statement inserts the entries as a block of their own
instead, and that one is open from then on: an INSERT of the new block that names the
open block's id when the open block is as expected, so that its conflict becomes the
append (an upsert), and says which block took the entries. After any failure the instance
forgets its open blocks. A block that took appends keeps no archive object key (its
entries came from several): an entry's full copy is then found in the archive by id and
time.

A block leaves the open ones sealed (logsvc.store.sealing): when it is full, or when the
next entries of its service go into a new block; a sealed block takes no appends.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from logsvc.sql import Result, Statement
from logsvc.store.blocks import (
    BLOCK_ROW,
    LEVEL_COUNTS,
    MAX_BLOCK_BYTES,
    MAX_BLOCK_ENTRIES,
    MAX_BLOCK_SPAN_MS,
    MIXED_LEVELS,
    Block,
    block_statement,
    block_values,
    entries_json,
)
from logsvc.store.sealing import seal_statements

# A block takes appends while it holds fewer entries: past about this many, a block's own
# row and index entries cost under 2 bytes a log, while newest-N searches unpack whole
# blocks, so larger ones would only make them slower.
OPEN_BLOCK_ENTRIES = 256

_APPEND_SQL = (
    f"INSERT INTO {BLOCK_ROW} SELECT CASE WHEN EXISTS (SELECT 1 FROM log_blocks "  # noqa: S608 - fixed column names
    "WHERE id = ? AND entry_count = ? AND words_doc IS NULL) THEN ? ELSE ? END, "
    + ", ".join("?" * 14)
    + " WHERE true ON CONFLICT (id) DO UPDATE SET "
    "entries = substr(log_blocks.entries, 1, length(log_blocks.entries) - 1) || ',' "
    "|| substr(excluded.entries, 2), "
    "first_ts = ?, last_ts = ?, entry_count = ?, level = ?, streams = ?, r2_key = NULL, "
    + ", ".join(f"{column} = ?" for column in LEVEL_COUNTS.values())
    + " WHERE log_blocks.id = ? AND log_blocks.entry_count = ? "
    "AND log_blocks.words_doc IS NULL RETURNING id"
)


@dataclass
class OpenBlock:
    """A block as this instance last wrote it."""

    id: str
    first_ts: int
    last_ts: int
    count: int
    size: int
    levels: dict[str, int]
    streams: dict[bytes, None]
    rows: list[bytes]  # its entries' JSON, as stored: what packs it when it is sealed

    @classmethod
    def of(cls, block: Block) -> OpenBlock:
        return cls(
            block.id,
            min(block.timestamps),
            max(block.timestamps),
            len(block.rows),
            block.size,
            dict(block.levels),
            dict(block.streams),
            list(block.rows),
        )

    def json(self) -> bytes:
        return entries_json(self.rows)

    def takes(self, block: Block) -> bool:
        """Whether ``block``'s entries fit: the entry and byte limits, and the time span."""
        first = min(self.first_ts, *block.timestamps)
        last = max(self.last_ts, *block.timestamps)
        return (
            self.count + len(block.rows) <= min(OPEN_BLOCK_ENTRIES, MAX_BLOCK_ENTRIES)
            and self.size + block.size <= MAX_BLOCK_BYTES
            and last - first <= MAX_BLOCK_SPAN_MS
        )

    def with_(self, block: Block) -> OpenBlock:
        levels = {level: count + block.levels[level] for level, count in self.levels.items()}
        return OpenBlock(
            self.id,
            min(self.first_ts, *block.timestamps),
            max(self.last_ts, *block.timestamps),
            self.count + len(block.rows),
            self.size + block.size,
            levels,
            {**self.streams, **block.streams},
            self.rows + block.rows,
        )


@dataclass
class _Planned:
    key: tuple[str, str]  # service, source
    block: Block  # the new entries, as a block of their own
    appended: OpenBlock | None  # the open block with them, when they are appended
    statements: int  # how many statements it took
    sealed: int = 0  # the entries' bytes of the blocks it seals


class OpenBlocks:
    """The open blocks of one writer instance, per service and source."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], OpenBlock] = {}
        self._lock = threading.Lock()

    def statements(
        self, blocks: Sequence[Block], archive_keys: dict[str, str]
    ) -> tuple[list[Statement], list[_Planned]]:
        """The statements that store ``blocks``: appended to the open block of their
        service where they fit, else inserted; and the plan ``settle`` reads back."""
        statements: list[Statement] = []
        plans: list[_Planned] = []
        with self._lock:
            planned = dict(self._open)  # as it will be, block by block (a batch may hold
            for block in blocks:  # two of a service: the second appends after the first)
                key = (block.service_name, block.source_type)
                current = planned.get(key)
                if current is None or not current.takes(block):
                    # The block it replaces takes no more: sealed, as is a full new one.
                    own = (
                        seal_statements(current.id, key[1], current.json())
                        if current is not None
                        else []
                    )
                    sealed = current.size if current is not None else 0
                    own.append(block_statement(block, archive_keys))
                    if len(block.rows) >= OPEN_BLOCK_ENTRIES:
                        own += seal_statements(block.id, key[1], block.json())
                        sealed += block.size
                        planned.pop(key, None)
                    else:
                        planned[key] = OpenBlock.of(block)
                    statements += own
                    plans.append(_Planned(key, block, None, len(own), sealed))
                    continue
                appended = planned[key] = current.with_(block)
                own = [_append(block, archive_keys, current, appended)]
                full = appended.count >= OPEN_BLOCK_ENTRIES
                if full:
                    own += seal_statements(appended.id, key[1], appended.json())
                    planned.pop(key)
                statements += own
                plans.append(_Planned(key, block, appended, len(own), appended.size if full else 0))
        return statements, plans

    def settle(self, plans: Sequence[_Planned], results: Sequence[Result]) -> None:
        """Remember what the stored batch left open (``results`` in statement order)."""
        with self._lock:
            at = 0
            for plan in plans:
                appended = plan.appended is not None and any(
                    row["id"] == plan.appended.id for row in results[at].rows
                )
                at += plan.statements
                if appended:
                    if plan.appended.count < OPEN_BLOCK_ENTRIES:
                        self._open[plan.key] = plan.appended
                    else:  # full, and sealed
                        self._open.pop(plan.key, None)
                elif len(plan.block.rows) < OPEN_BLOCK_ENTRIES:
                    self._open[plan.key] = OpenBlock.of(plan.block)
                else:
                    self._open.pop(plan.key, None)

    def forget(self) -> None:
        """After a failure: whatever was open may not be as remembered."""
        with self._lock:
            self._open.clear()


def _append(
    block: Block, archive_keys: dict[str, str], current: OpenBlock, appended: OpenBlock
) -> Statement:
    """``block``'s entries appended to ``current`` (as ``appended``), or inserted as a block
    of their own if ``current`` is not as this instance wrote it; answers the id of the
    block that took them (none: the new block was there already, from an earlier try)."""
    present = [level for level, count in appended.levels.items() if count]
    new_id, *values = block_values(block, archive_keys)
    return Statement(
        _APPEND_SQL,
        (
            current.id,
            current.count,
            current.id,
            new_id,
            *values,
            appended.first_ts,
            appended.last_ts,
            appended.count,
            present[0] if len(present) == 1 else MIXED_LEVELS,
            (b"[" + b",".join(appended.streams) + b"]").decode("utf-8"),
            *appended.levels.values(),
            current.id,
            current.count,
        ),
    )
