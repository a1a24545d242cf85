"""Sealing: a block that takes no more appends gets what lets readers skip its entries,
its documents in the content index (logsvc.store.content_index) and its time summary
(logsvc.store.block_times), and keeps them true while its entries expire and until it is
deleted. The one place that says what each change of a sealed block sends with it.

A block is sealed once nothing more will be appended to it: when it is written whole, when
the writer stops appending to it (logsvc.store.open_blocks), or by cleanup's sweep for
blocks a writer left open (LogIndex.seal_open). ``words_doc`` set says it is; a sealed block
takes no appends. Whoever seals a block knows its entries and packs it then
(logsvc.store.packing), after what is computed from its plain entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from logsvc.sql import Statement
from logsvc.store import block_times, content_index
from logsvc.store.packing import PACKED, pack_statement, packed_of, packs


def seal_statements(block_id: str, source_type: str, entries: bytes) -> list[Statement]:
    """Seal and pack one block whose entries column holds ``entries`` (its JSON array), in
    the transaction of what else is sent (nothing when it is sealed already or gone)."""
    packing = [pack_statement(block_id, entries)] if packs(source_type) else []
    return [
        *content_index.insert_statements(block_id),
        Statement(
            "UPDATE log_blocks SET words_doc = last_insert_rowid() "
            "WHERE id = ? AND words_doc IS NULL",
            (block_id,),
        ),
        block_times.write_statement("b.id = ?", (block_id,)),
        *packing,
    ]


# What delete_statements reads of each block: select it beside the blocks chosen (alias b).
DELETED_COLUMNS = f"b.id, b.words_doc, {PACKED}"


def delete_statements(blocks: Sequence[Mapping[str, Any]]) -> list[Statement]:
    """Delete ``blocks`` (rows with DELETED_COLUMNS) with what they hold beside their rows,
    which goes first: their documents (a packed block's computed from its entries, unpacked
    here) and time summaries. The last statement answers each deleted block's
    entry_count."""
    named = "id IN (SELECT value FROM json_each(?))"
    ids = (json.dumps([block["id"] for block in blocks]),)
    return [
        *content_index.unindex_statements(named, ids),
        *(
            s
            for block_id, doc, entries in packed_of(blocks)
            for s in content_index.unindex_packed_statements(block_id, doc, entries)
        ),
        block_times.delete_statement(named, ids),
        Statement(f"DELETE FROM log_blocks WHERE {named} RETURNING entry_count", ids),  # noqa: S608 - fixed fragments
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
        # Gone first: a summary is written only for entries that fit one (block_times).
        block_times.delete_statement(blocks, params),
        block_times.write_statement(
            f"b.id IN (SELECT id FROM log_blocks WHERE {blocks})",  # noqa: S608 - fixed fragments
            params,
        ),
    ]
