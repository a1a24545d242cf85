"""Sealing: a block that takes no more appends gets what lets readers skip its entries,
its documents in the content index (logsvc.store.content_index) and its time summary
(logsvc.store.block_times), and keeps them true while its entries expire and until it is
deleted. The one place that says what each change of a sealed block sends with it.

A block is sealed once nothing more will be appended to it: when it is written whole, when
the writer stops appending to it (logsvc.store.open_blocks), or by cleanup's sweep for
blocks a writer left open (LogIndex.seal_open). ``words_doc`` set says it is; a sealed block
takes no appends.
"""

from __future__ import annotations

from collections.abc import Iterable

from logsvc.sql import Statement
from logsvc.store import block_times, content_index


def seal_statements(block_id: str) -> list[Statement]:
    """Seal one block, in the transaction of what else is sent (nothing when it is sealed
    already or gone)."""
    return [
        *content_index.insert_statements(block_id),
        Statement(
            "UPDATE log_blocks SET words_doc = last_insert_rowid() "
            "WHERE id = ? AND words_doc IS NULL",
            (block_id,),
        ),
        block_times.write_statement("b.id = ?", (block_id,)),
    ]


def before_delete(blocks: str, params: Iterable[object]) -> list[Statement]:
    """What goes before deleting the blocks ``blocks`` (a WHERE condition on log_blocks)
    selects."""
    params = tuple(params)
    return [
        *content_index.unindex_statements(blocks, params),
        block_times.delete_statement(blocks, params),
    ]


def before_change(blocks: str, params: Iterable[object]) -> list[Statement]:
    """What goes before changing the entries of the blocks ``blocks`` selects."""
    return content_index.unindex_statements(blocks, params)


def after_change(blocks: str, params: Iterable[object]) -> list[Statement]:
    """What goes after changing the entries of the blocks ``blocks`` selects (the same
    blocks, however the change moved them)."""
    params = tuple(params)
    return [
        *content_index.reindex_statements(blocks, params),
        block_times.write_statement(
            f"b.id IN (SELECT id FROM log_blocks WHERE {blocks})",  # noqa: S608 - fixed fragments
            params,
        ),
    ]
