"""Packed blocks (logsvc.store.packing): a sealed block keeps its entries compressed; every
read answers what it answers for the same blocks unpacked, a packed block is a fraction of
its entries' bytes, only the entries the writer knows are packed, and a packed block is
unpacked in place before its entries expire or it is deleted, on SQLite, the D1 REST
stand-in and real D1 (workerd, through the bridge)."""

from __future__ import annotations

import random
from dataclasses import replace

from logsvc import components
from logsvc.entries import LogEntry
from logsvc.field_filters import parse_one
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.store.log_index import LogIndex
from logsvc.store.packing import pack_statement, restore_statements

NOW = 1_790_000_000_000
SERVICES = ("checkout", "search")
LEVELS = ("DEBUG", "INFO", "INFO", "WARN", "ERROR", "CRITICAL")


def corpus(seed: int = 11) -> list[list[LogEntry]]:
    """Batches of two services: mixed levels, late entries, pushed labels, JSON lines,
    text JSON escapes, non-ASCII letters and nanosecond timestamps."""
    rng = random.Random(seed)
    batches = []
    for number in range(12):
        entries = []
        for k in range(rng.randrange(20, 60)):
            at = NOW + number * 60_000 + k * 7
            if rng.random() < 0.15:
                at -= rng.randrange(3_600_000)
            metadata: dict = {"user_id": f"user-{rng.randrange(30)}", "n": rng.randrange(9)}
            if rng.random() < 0.4:
                metadata["labels"] = {"env": rng.choice(("prod", "dev")), "app": "shop"}
            message = rng.choice(
                (
                    f"GET /orders/{rng.randrange(999)} took {rng.randrange(900)}ms",
                    f'{{"latency_ms": {rng.randrange(500)}, "route": "/pay"}}',
                    'quoted "Straße" \\ back\tslash',
                    f"payment TIMEOUT after {rng.randrange(60)}s",
                )
            )
            entry = LogEntry(
                entry_id(at), rng.choice(SERVICES), rng.choice(LEVELS), message, at, metadata
            )
            if rng.random() < 0.2:
                entry = LogEntry(
                    entry.id,
                    entry.service_name,
                    entry.level,
                    entry.message,
                    at,
                    metadata,
                    timestamp_ns=at * 1_000_000 + rng.randrange(1_000_000),
                )
            entries.append(entry)
        batches.append(entries)
    return batches


FILTERS = [
    SearchFilters(limit=500),
    SearchFilters(service="checkout", level="ERROR", limit=20),
    SearchFilters(q="timeout", limit=500),
    SearchFilters(q="straße", limit=500),
    SearchFilters(fields=(parse_one("metadata.user_id=user-7"),), limit=500),
    SearchFilters(fields=(parse_one("metadata.labels.env=prod"),), limit=500),
    SearchFilters(start_time=NOW + 3 * 60_000, end_time=NOW + 6 * 60_000, limit=500),
    SearchFilters(service="search", q="orders", offset=5, limit=10),
]


def answers(index: LogIndex, ids: list[str]) -> dict:
    """Every read of the index over the corpus, in an order that does not depend on how
    rows leave the database."""
    found: dict = {}
    for number, filters in enumerate(FILTERS):
        found[f"search {number}"] = index.search(filters)
        found[f"points {number}"] = sorted(index.points(filters), key=repr)
        found[f"values {number}"] = sorted(
            index.values(filters, ('$."latency_ms"',), ('$."n"',)), key=repr
        )
        origin = NOW - 3_600_000
        ranged = replace(
            filters,
            start_time=filters.start_time or origin,
            end_time=filters.end_time or NOW + 3_600_000,
        )
        found[f"tallies {number}"] = sorted(index.tallies(ranged, origin, 60_000), key=repr)
    found["get"] = [index.get(i) for i in ids]
    for service in SERVICES:
        found[f"stats {service}"] = index.stats(service, NOW + 20 * 3_600_000)
        found[f"errors {service}"] = index.error_counts(
            service, NOW + 2 * 60_000 + 5, NOW + 9 * 60_000
        )
    return found


def test_every_read_of_packed_blocks_answers_as_for_plain_ones(api_any_db):
    db = components.database()
    index = LogIndex(db)
    batches = corpus()
    for number, batch in enumerate(batches):
        index.write(index.prepare(batch, f"batch-{number}"), {})
    blocks = db.query(
        "SELECT count(*) AS n, count(packed) AS packed, sum(entries = '[]') AS empty "
        "FROM log_blocks"
    )[0]
    assert blocks["n"] == blocks["packed"] == blocks["empty"] > 20  # written whole: packed
    ids = [e.id for batch in batches for e in batch[::9]]
    packed = answers(index, ids)
    db.batch(restore_statements(db, "1 = 1", ()))  # every block plain again, in place
    assert db.query("SELECT count(packed) AS n FROM log_blocks") == [{"n": 0}]
    plain = answers(index, ids)
    assert packed == plain
    assert all(packed["get"]) and len(packed["search 0"][0]) == 500
    assert [len(packed[f"search {n}"][0]) > 0 for n in range(len(FILTERS))] == [1] * 8


def test_a_packed_block_is_a_fraction_of_its_entries(api_any_db):
    db = components.database()
    index = LogIndex(db)
    for number, batch in enumerate(corpus(seed=5)):
        index.write(index.prepare(batch, f"batch-{number}"), {})
    (packed,) = db.query("SELECT sum(length(packed)) AS n FROM log_blocks")
    db.batch(restore_statements(db, "1 = 1", ()))
    (plain,) = db.query("SELECT sum(length(CAST(entries AS BLOB))) AS n FROM log_blocks")
    assert packed["n"] < plain["n"] * 0.35


def test_only_the_entries_the_writer_knows_are_packed(api_any_db):
    """The pack goes with the seal, for the entries the sealer holds: a block whose stored
    entries differ (changed meanwhile) stays plain, and a packed one is not packed again."""
    db = components.database()
    index = LogIndex(db)
    at = NOW
    batch = index.prepare([LogEntry(entry_id(at), "checkout", "INFO", "one", at, {})], "b")
    (block,) = batch.blocks
    index.write(batch, {})
    db.batch(restore_statements(db, "1 = 1", ()))
    assert (
        db.execute(
            pack_statement(block.id, block.json() + b" ").sql,
            pack_statement(block.id, block.json() + b" ").params,
        ).changes
        == 0
    )
    statement = pack_statement(block.id, block.json())
    assert db.execute(statement.sql, statement.params).changes == 1
    assert db.execute(statement.sql, statement.params).changes == 0  # packed already
    assert index.search(SearchFilters(q="one"))[0][0]["id"] == block.ids[0]


def test_packed_blocks_leave_the_content_index_exactly(api_any_db):
    """A packed block's documents are removed with what they were computed from (its entries,
    unpacked and sent back): after whole and partial expiry FTS5's own check finds the index
    consistent, and no document is left for a block that went."""
    db = components.database()
    index = LogIndex(db)
    for number, batch in enumerate(corpus(seed=3)):
        index.write(index.prepare(batch, f"batch-{number}"), {})
    cutoff = NOW + 5 * 60_000 + 100  # inside a batch's blocks: some straddle it
    for service in SERVICES:
        while not index.expire(service, cutoff, 3).finished:
            pass
    straddled = db.query("SELECT count(*) AS n FROM log_blocks WHERE first_ts >= ?", (cutoff,))
    assert straddled[0]["n"] > 0
    for table in ("block_words", "block_fields"):
        db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")  # noqa: S608 - fixed names
    held = {r["words_doc"] for r in db.query("SELECT words_doc FROM log_blocks")}
    docs = db.query("SELECT rowid FROM block_words WHERE block_words MATCH '\"use\"'")
    assert {r["rowid"] for r in docs} == held  # every block left, and only those
    found, _ = index.search(SearchFilters(q="timeout", limit=1000))
    assert found and all(e["timestamp"] >= cutoff for e in found)
