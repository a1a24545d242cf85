"""The content index: which blocks can hold a text, so a search for a rare word, an absent
text or a field value reads only those blocks (issue 30; migration 0012).

Each sealed block has one document in ``block_words``, a contentless FTS5 table of
trigrams with rowids only (no text, no positions): the distinct lines of its entries'
messages and of its metadata's text values as ``key=value``. The document is computed in
SQL from the block's stored entries (DOCUMENT), where the block is, so it costs no bytes
on the wire, and the same expression removes it again (FTS5's 'delete' command, which a
contentless table needs the document for) before a block is deleted or its entries are
expired.

A block is sealed (given its document, ``words_doc`` set) once nothing more will be
appended to it: when it is written whole, or when the writer stops appending to it
(logsvc.store.open_blocks), or by cleanup's sweep for blocks a writer left open. Until then
``words_doc`` is NULL and searches read the block as they would without this index; a
sealed block takes no appends.

A needle narrows the blocks to those whose document holds each of its trigrams (ASCII
trigrams only: FTS5 folds ASCII case as the searches do). That is a superset of the blocks
holding the needle; the searches' own tests decide.
"""

from __future__ import annotations

from collections.abc import Iterable

from logsvc.filters import SearchFilters
from logsvc.sql import Statement

WORDS_TABLE = "block_words"
# A needle's trigrams asked for, at most (spread over it): more narrow little further.
MAX_TRIGRAMS = 24


def document(block: str) -> str:
    """SQL: the document of the block row ``block`` (an alias of log_blocks), NULL for a
    block without entries."""
    entries = f"json_each({block}.entries) AS e"
    return (
        "(SELECT group_concat(line, char(10)) FROM ("  # noqa: S608 - fixed fragments
        f"SELECT json_extract(e.value, '$[1]') AS line FROM {entries} WHERE e.type = 'array' "
        f"UNION SELECT t.key || '=' || t.atom FROM {entries}, json_tree(e.value, '$[2]') AS t "
        "WHERE e.type = 'array' AND t.type = 'text'))"
    )


def seal_statements(block_id: str) -> list[Statement]:
    """Seal one block: its document written and its rowid kept in the block, both only
    while the block is unsealed (in one transaction with what else is sent)."""
    return [
        Statement(
            f"INSERT INTO {WORDS_TABLE} (words) SELECT {document('b')} "  # noqa: S608 - fixed fragments
            "FROM log_blocks AS b WHERE b.id = ? AND b.words_doc IS NULL",
            (block_id,),
        ),
        Statement(
            "UPDATE log_blocks SET words_doc = last_insert_rowid() "
            "WHERE id = ? AND words_doc IS NULL",
            (block_id,),
        ),
    ]


def unindex_statement(blocks: str, params: Iterable[object]) -> Statement:
    """Remove the documents of the sealed blocks that ``blocks`` (a WHERE condition on
    log_blocks) selects: before they are deleted, or their entries change."""
    return Statement(
        f"INSERT INTO {WORDS_TABLE} ({WORDS_TABLE}, rowid, words) "  # noqa: S608 - fixed fragments
        f"SELECT 'delete', b.words_doc, {document('b')} FROM log_blocks AS b "
        f"WHERE b.words_doc IS NOT NULL AND b.id IN (SELECT id FROM log_blocks WHERE {blocks})",
        tuple(params),
    )


def reindex_statement(blocks: str, params: Iterable[object]) -> Statement:
    """Index again, under their rowids, the sealed blocks ``blocks`` selects (after their
    entries changed)."""
    return Statement(
        f"INSERT INTO {WORDS_TABLE} (rowid, words) "  # noqa: S608 - fixed fragments
        f"SELECT b.words_doc, {document('b')} FROM log_blocks AS b "
        f"WHERE b.words_doc IS NOT NULL AND b.id IN (SELECT id FROM log_blocks WHERE {blocks})",
        tuple(params),
    )


def needles(filters: SearchFilters) -> list[str]:
    """Texts a block's document holds (ignoring ASCII case) if the block holds a match:
    the substring searched for, and each metadata text filter as its line or its value."""
    found = [filters.q] if filters.q else []
    for field_filter in filters.fields:
        if field_filter.number is not None or field_filter.literal:
            continue  # numbers and JSON literals are not in documents
        if field_filter.op == "=":
            found.append(f"{field_filter.keys[-1]}={field_filter.value}")
        elif field_filter.op == "~=":
            found.append(field_filter.value)
    return found


def match_expression(texts: Iterable[str]) -> str | None:
    """An FTS5 query for documents holding every ASCII trigram of ``texts`` (None when
    they have none: nothing to narrow by)."""
    trigrams: list[str] = []
    for text in texts:
        own = list(dict.fromkeys(t for t in _trigrams(text) if t.isascii()))
        if len(own) > MAX_TRIGRAMS:  # spread over the needle, first and last kept
            step = (len(own) - 1) / (MAX_TRIGRAMS - 1)
            own = [own[round(i * step)] for i in range(MAX_TRIGRAMS)]
        trigrams += own
    if not trigrams:
        return None
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(trigrams))


def block_condition(filters: SearchFilters) -> tuple[str, list[str]] | None:
    """The condition on a block row that its document can hold the filters' texts (an
    unsealed block always can), or None when they give nothing to narrow by."""
    expression = match_expression(needles(filters))
    if expression is None:
        return None
    return (
        f"(words_doc IS NULL OR words_doc IN (SELECT rowid FROM {WORDS_TABLE} "  # noqa: S608 - fixed name
        f"WHERE {WORDS_TABLE} MATCH ?))",
        [expression],
    )


def _trigrams(text: str) -> list[str]:
    return [text[i : i + 3] for i in range(len(text) - 2)]
