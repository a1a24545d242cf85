"""The content index: which blocks can hold a text, so a search for a rare word, an absent
text or a field value reads only those blocks (issue 30; migration 0012).

Each sealed block has a document, under one rowid, in two contentless FTS5 tables (rowids
only: no text, no positions):

- ``block_words``: the trigrams of the distinct lines of its entries' messages and of its
  metadata's text values as ``key=value``: any substring of 3 characters or more;
- ``block_fields``: each ``key=value`` line as one token: a field's exact value.

Documents are computed in SQL from the block's stored entries (``_TABLES``), where the
block is, so they cost no bytes on the wire, and the same expressions remove them again
(FTS5's 'delete' command, which a contentless table needs the document for) before a
block is deleted or its entries expire.

A block gets its documents when it is sealed (logsvc.store.sealing: ``words_doc``, their
rowid, set); until then ``words_doc`` is NULL and searches read the block as they would
without this index.

A needle narrows the blocks to those whose document holds each of its trigrams (ASCII
trigrams only: FTS5 folds ASCII case as the searches do), and a field equality to those
holding its line. That is a superset of the blocks holding a match; the searches' own
tests decide.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from logsvc.filters import SearchFilters
from logsvc.sql import Statement

# A needle's trigrams asked for, at most (spread over it): more narrow little further.
MAX_TRIGRAMS = 24
# What block_fields' tokenizer keeps in a token (migration 0012): printable ASCII but ';'.
_FIELD_CHARACTERS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {";"}


def _lines(block: str, messages: bool) -> str:
    """SQL: the distinct lines of the block row ``block`` (an alias of log_blocks), its
    metadata's text values as ``key=value`` and, with ``messages``, its messages, joined
    by newlines (block_fields' tokenizer ends a token there; NULL for a block without
    any)."""
    entries = f"json_each({block}.entries) AS e"
    lines = (
        "SELECT t.key || '=' || t.atom AS line "  # noqa: S608 - fixed fragments
        f"FROM {entries}, json_tree(e.value, '$[2]') AS t "
        "WHERE e.type = 'array' AND t.type = 'text'"
    )
    if messages:
        lines += (
            " UNION SELECT json_extract(e.value, '$[1]') "  # noqa: S608 - fixed fragments
            f"FROM {entries} WHERE e.type = 'array'"
        )
    return f"(SELECT group_concat(line, char(10)) FROM (SELECT DISTINCT line FROM ({lines})))"  # noqa: S608 - fixed fragments


# Each table, its column and its document of the block row ``b``.
_TABLES = {
    "block_words": ("words", _lines("b", messages=True)),
    "block_fields": ("fields", _lines("b", messages=False)),
}


def insert_statements(block_id: str) -> list[Statement]:
    """Write an unsealed block's documents; the second leaves their rowid as
    last_insert_rowid() for logsvc.store.sealing to keep in the block."""
    unsealed = "FROM log_blocks AS b WHERE b.id = ? AND b.words_doc IS NULL"
    (words, (words_column, words_doc)), (fields, (fields_column, fields_doc)) = _TABLES.items()
    return [
        Statement(
            f"INSERT INTO {words} ({words_column}) SELECT {words_doc} {unsealed}",
            (block_id,),
        ),
        Statement(
            f"INSERT INTO {fields} (rowid, {fields_column}) "
            f"SELECT last_insert_rowid(), {fields_doc} {unsealed}",
            (block_id,),
        ),
    ]


def unindex_statements(blocks: str, params: Iterable[object]) -> list[Statement]:
    """Remove the documents of the sealed plain blocks that ``blocks`` (a WHERE condition on
    log_blocks) selects: before they are deleted, or their entries change."""
    return [
        Statement(
            f"INSERT INTO {table} ({table}, rowid, {column}) SELECT 'delete', b.words_doc, "  # noqa: S608 - fixed fragments
            f"{document} FROM log_blocks AS b WHERE b.words_doc IS NOT NULL "
            f"AND b.packed IS NULL AND b.id IN (SELECT id FROM log_blocks WHERE {blocks})",
            tuple(params),
        )
        for table, (column, document) in _TABLES.items()
    ]


def unindex_packed_statements(block_id: str, doc: int, entries: list[Any]) -> list[Statement]:
    """Remove the documents of a packed block, computed from its entries (unpacked by the
    caller) with the same SQL as for a plain block: before it is deleted, and only while it
    is still there as it was read (so never twice). Each table is sent what its document
    is made of: messages and metadata, metadata alone (``[0, message, metadata]`` items)."""
    kept = [e for e in entries if e is not None]
    sent = {
        "block_words": [[0, e[1], e[2]] for e in kept],
        "block_fields": [[0, None, e[2]] for e in kept],
    }
    return [
        Statement(
            f"WITH b (entries) AS (SELECT ?) INSERT INTO {table} ({table}, rowid, {column}) "  # noqa: S608 - fixed fragments
            f"SELECT 'delete', ?, {document} FROM b WHERE EXISTS (SELECT 1 FROM log_blocks "
            "WHERE id = ? AND words_doc = ? AND packed IS NOT NULL)",
            (orjson.dumps(sent[table]).decode("utf-8"), doc, block_id, doc),
        )
        for table, (column, document) in _TABLES.items()
    ]


def optimize_statements() -> list[Statement]:
    """Merge each table's segments into one (FTS5 'optimize'), applying the delete markers
    that removing documents left beside them: the room they take once their blocks are gone
    (for the size budget when deleting blocks alone did not bring the database under it)."""
    return [
        Statement(f"INSERT INTO {table} ({table}) VALUES ('optimize')")  # noqa: S608 - fixed names
        for table in _TABLES
    ]


def reindex_statements(blocks: str, params: Iterable[object]) -> list[Statement]:
    """Index again, under their rowids, the sealed blocks ``blocks`` selects (after their
    entries changed)."""
    return [
        Statement(
            f"INSERT INTO {table} (rowid, {column}) SELECT b.words_doc, {document} "  # noqa: S608 - fixed fragments
            "FROM log_blocks AS b WHERE b.words_doc IS NOT NULL "
            f"AND b.id IN (SELECT id FROM log_blocks WHERE {blocks})",
            tuple(params),
        )
        for table, (column, document) in _TABLES.items()
    ]


def block_condition(filters: SearchFilters) -> tuple[str, list[str]] | None:
    """The condition on a block row that its documents can hold the filters' texts (an
    unsealed block always can), or None when they give nothing to narrow by."""
    texts = [filters.q] if filters.q else []
    lines = []
    for field_filter in filters.fields:
        if field_filter.number is not None or field_filter.literal:
            continue  # numbers and JSON literals are not in documents
        if field_filter.op == "=":
            line = f"{field_filter.keys[-1]}={field_filter.value}"
            if set(line) <= _FIELD_CHARACTERS:
                lines.append(line)
            else:
                texts.append(line)
        elif field_filter.op == "~=":
            texts.append(field_filter.value)
    tests, params = [], []
    words = match_expression(texts)
    if words is not None:
        tests.append("words_doc IN (SELECT rowid FROM block_words WHERE block_words MATCH ?)")
        params.append(words)
    if lines:
        tests.append("words_doc IN (SELECT rowid FROM block_fields WHERE block_fields MATCH ?)")
        params.append(" AND ".join(_quoted(line) for line in dict.fromkeys(lines)))
    if not tests:
        return None
    return f"(words_doc IS NULL OR ({' AND '.join(tests)}))", params


def match_expression(texts: Iterable[str]) -> str | None:
    """A block_words query for documents holding every ASCII trigram of ``texts`` (None
    when they have none: nothing to narrow by)."""
    trigrams: list[str] = []
    for text in texts:
        own = list(dict.fromkeys(t for t in _trigrams(text) if t.isascii()))
        if len(own) > MAX_TRIGRAMS:  # spread over the needle, first and last kept
            step = (len(own) - 1) / (MAX_TRIGRAMS - 1)
            own = [own[round(i * step)] for i in range(MAX_TRIGRAMS)]
        trigrams += own
    if not trigrams:
        return None
    return " AND ".join(_quoted(t) for t in dict.fromkeys(trigrams))


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _trigrams(text: str) -> list[str]:
    return [text[i : i + 3] for i in range(len(text) - 2)]
