"""The content index (logsvc.store.content_index): searches for a substring or a field value
read only the blocks whose document can hold it, answer what a scan of every entry
answers, and the documents follow the blocks (sealed, expired, shrunk for size), on SQLite,
the D1 REST stand-in and real D1 (workerd, through the bridge)."""

from __future__ import annotations

import random

import pytest

from logsvc import components
from logsvc.entries import LogEntry
from logsvc.field_filters import parse_one
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.store.content_index import block_condition, match_expression
from logsvc.store.hot_windows import HotWindows
from logsvc.store.log_index import LogIndex
from logsvc.store.open_blocks import OPEN_BLOCK_ENTRIES, OpenBlocks

NOW = 1_790_000_000_000
SERVICES = ("checkout", "search", "billing")
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")


def corpus(blocks: int = 30, per_block: int = 20, seed: int = 3) -> list[list[LogEntry]]:
    """``blocks`` batches (one block a service each), a rare token in two entries, a user
    of three entries, text that needs escaping in JSON, and non-ASCII letters."""
    rng = random.Random(seed)
    batches = []
    for number in range(blocks):
        entries = []
        for k in range(per_block):
            service = SERVICES[k % len(SERVICES)]
            timestamp = NOW + number * 60_000 + k
            word = rng.choice(WORDS)
            message = f"{word} request {rng.randrange(10**6)} took {rng.randrange(900)}ms"
            user = f"user-{rng.randrange(50)}"
            if (number, k) in ((4, 2), (21, 7)):
                message += " zebracorn-91 declined"
            if (number, k) in ((9, 1), (9, 2), (17, 5)):
                user = "user-rare-7"
            if (number, k) == (12, 0):
                message = 'quoted "Straße" \\ back\tslash'
            metadata = {"user_id": user, "http": {"status": rng.choice((200, 500))}}
            entries.append(
                LogEntry(entry_id(timestamp), service, "INFO", message, timestamp, metadata)
            )
        batches.append(entries)
    return batches


def write_all(index: LogIndex, batches: list[list[LogEntry]]) -> None:
    for number, batch in enumerate(batches):
        index.write(index.prepare(batch, f"batch-{number}"), {})


def scan(batches: list[list[LogEntry]], filters: SearchFilters) -> list[str]:
    """The answer by testing every entry in Python: what the index must agree with."""
    every = [
        {
            "service_name": e.service_name,
            "level": e.level,
            "message": e.message,
            "timestamp": e.timestamp,
            "metadata": e.metadata,
            "id": e.id,
        }
        for batch in batches
        for e in batch
    ]
    found = sorted(
        (e for e in every if filters.matches(e)),
        key=lambda e: (e["timestamp"], e["id"]),
        reverse=True,
    )
    return [e["id"] for e in found[: filters.limit]]


def searched(index: LogIndex, filters: SearchFilters) -> list[str]:
    return [entry["id"] for entry in index.search(filters)[0]]


def candidates(index: LogIndex, filters: SearchFilters) -> int:
    """How many blocks the content index leaves for these filters."""
    condition = block_condition(filters)
    assert condition is not None
    sql, params = condition
    rows = index.db.query(f"SELECT count(*) AS n FROM log_blocks WHERE {sql}", params)  # noqa: S608 - test SQL
    return rows[0]["n"]


def documents_matching(index: LogIndex, text: str) -> int:
    expression = match_expression([text])
    rows = index.db.query(
        "SELECT count(*) AS n FROM block_words WHERE block_words MATCH ?", (expression,)
    )
    return rows[0]["n"]


def field(text: str):
    return parse_one(text)


NEEDLES = [
    SearchFilters(q="zebracorn-91", limit=50),  # a rare token: two entries
    SearchFilters(q="EBRACOR", limit=50),  # inside a word, another case
    SearchFilters(q="nothing like this anywhere", limit=50),  # absent
    SearchFilters(q="straße", limit=50),  # non-ASCII letters, case folded
    SearchFilters(q='"straße" \\ back', limit=50),  # quotes and a backslash
    SearchFilters(fields=(field("metadata.user_id=user-rare-7"),), limit=50),
    SearchFilters(fields=(field("metadata.user_id=USER-RARE-7"),), limit=50),
    SearchFilters(fields=(field("metadata.user_id~=rare-7"),), limit=50),
    SearchFilters(q="declined", fields=(field("metadata.user_id~=user"),), limit=50),
    SearchFilters(service="search", q="took", limit=50),  # common: most blocks hold it
]


def test_searches_answer_what_a_scan_answers_and_read_only_blocks_that_can_match(
    api_any_db,
):
    index = LogIndex(components.database())
    batches = corpus()
    write_all(index, batches)
    blocks = index.db.query("SELECT count(*) AS n, count(words_doc) AS sealed FROM log_blocks")
    assert blocks[0]["n"] == 90 and blocks[0]["sealed"] == 90  # written whole: all sealed
    for filters in NEEDLES:
        expected = scan(batches, filters)
        assert searched(index, filters) == expected, filters
    assert [scan(batches, f) != [] for f in NEEDLES] == [1, 1, 0, 1, 1, 1, 1, 1, 1, 1]
    # The blocks left to read: those holding the text (the rare token's two, the rare
    # user's three), none for an absent one.
    assert candidates(index, NEEDLES[0]) == 2
    assert candidates(index, NEEDLES[1]) == 2
    assert candidates(index, NEEDLES[2]) == 0
    assert candidates(index, NEEDLES[5]) == 3
    assert candidates(index, NEEDLES[6]) == 3
    assert candidates(index, NEEDLES[9]) >= 80
    # A field's exact value: the blocks holding "user-1" itself, not "user-10".."user-19"
    # (which hold all its trigrams).
    exact = SearchFilters(fields=(field("metadata.user_id=user-1"),), limit=50)
    holding = {
        (e.service_name, number)
        for number, batch in enumerate(batches)
        for e in batch
        if e.metadata["user_id"] == "user-1"
    }
    similar = {
        (e.service_name, number)
        for number, batch in enumerate(batches)
        for e in batch
        if e.metadata["user_id"].startswith("user-1")
    }
    assert candidates(index, exact) == len(holding) < len(similar)
    assert searched(index, exact) == scan(batches, exact)


def test_open_blocks_are_read_until_sealed_and_a_sealed_block_takes_no_appends(api_any_db):
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    batches = corpus(blocks=12, per_block=6)
    write_all(index, batches[:6])
    rows = index.db.query("SELECT count(*) AS n, count(words_doc) AS sealed FROM log_blocks")
    assert rows[0]["n"] == 3 and rows[0]["sealed"] == 0  # one open block a service
    rare = SearchFilters(q="zebracorn", limit=50)
    assert searched(index, rare) == scan(batches[:6], rare) != []
    # Another instance seals the blocks (cleanup's sweep, say): this one's next appends
    # go into new blocks instead, and every entry is still found.
    assert index.seal_open(NOW + 3_600_000, 50) == 3
    assert documents_matching(index, "zebracorn") == 1
    write_all(index, batches[6:])
    rows = index.db.query("SELECT count(*) AS n, count(words_doc) AS sealed FROM log_blocks")
    assert rows[0]["n"] == 6 and rows[0]["sealed"] == 3
    for filters in NEEDLES:
        assert searched(index, filters) == scan(batches, filters), filters


def test_a_block_is_sealed_when_full_or_replaced(api_any_db):
    index = LogIndex(components.database(), open_blocks=OpenBlocks())
    entries = [
        LogEntry(entry_id(NOW + n), "checkout", "INFO", f"step {n} of a long job", NOW + n, {})
        for n in range(OPEN_BLOCK_ENTRIES + 40)
    ]
    for start in range(0, len(entries), 40):  # 40 entries a flush
        write_all(index, [entries[start : start + 40]])
    rows = index.db.query("SELECT entry_count, words_doc FROM log_blocks ORDER BY first_ts")
    # The first block filled up to the open limit and was sealed; the rest is open.
    assert [r["entry_count"] for r in rows] == [OPEN_BLOCK_ENTRIES - 16, 56]
    assert rows[0]["words_doc"] is not None and rows[1]["words_doc"] is None
    # A block that cannot take the next flush (two hours apart) is sealed as it is left.
    late = NOW + 3 * 3_600_000
    write_all(index, [[LogEntry(entry_id(late), "checkout", "INFO", "later", late, {})]])
    rows = index.db.query("SELECT words_doc FROM log_blocks ORDER BY first_ts")
    assert [r["words_doc"] is not None for r in rows] == [True, True, False]


def test_documents_leave_with_expired_entries_and_blocks(api_any_db):
    index = LogIndex(components.database())
    batches = corpus()
    write_all(index, batches)
    assert documents_matching(index, "zebracorn-91") == 2
    # Batch 4 expires whole; batch 21's blocks straddle a cutoff inside them.
    cutoff = NOW + 21 * 60_000 + 5
    for service in SERVICES:
        while not index.expire(service, cutoff, 7).finished:
            pass
    assert documents_matching(index, "zebracorn-91") == 1  # entry 7 of batch 21 is kept
    remaining = [[e for e in batch if e.timestamp >= cutoff] for batch in batches]
    for filters in NEEDLES:
        assert searched(index, filters) == scan(remaining, filters), filters
    # A straddling block's entries before the cutoff leave its document: batch 21's
    # block of "checkout" (entries 0, 3, 6 expired) keeps entries 9, 12...
    gone = batches[21][3].message.split()[2]  # its request number
    assert documents_matching(index, f"request {gone} took") == 0
    for service in SERVICES:
        while not index.expire(service, NOW + 3_600_000, 50).finished:
            pass
    assert index.db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"] == 0
    for text in ("zebracorn", "request", "user_id=user", "alpha"):
        assert documents_matching(index, text) == 0


def test_blocks_deleted_for_the_size_budget_leave_the_content_index(api_any_db):
    index = LogIndex(components.database())
    batches = corpus()
    write_all(index, batches)
    windows = HotWindows(index.db, budget_bytes=1)
    deleted, _since = windows._shrink("checkout", 10)
    assert len(deleted) == 10
    left = index.db.query("SELECT count(*) AS n FROM log_blocks WHERE service_name = 'checkout'")[
        0
    ]["n"]
    assert left == 20
    # Every document left belongs to a block that is still there.
    rows = index.db.query("SELECT rowid FROM block_words WHERE block_words MATCH '\"che\"'")
    docs = {row["rowid"] for row in rows}
    held = {
        row["words_doc"]
        for row in index.db.query("SELECT words_doc FROM log_blocks WHERE words_doc IS NOT NULL")
    }
    assert docs <= held and len(held) == 80


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["ab"], None),  # too short to narrow by
        (["straße"], '"str" AND "tra"'),  # trigrams beyond ASCII left out
        (['a"bc'], '"a""b" AND """bc"'),  # quotes doubled
        (["abcd", "bcde"], '"abc" AND "bcd" AND "cde"'),  # shared ones once
    ],
)
def test_match_expressions(texts, expected):
    assert match_expression(texts) == expected


def test_a_long_needle_asks_for_at_most_24_trigrams_first_and_last_kept():
    expression = match_expression(["0123456789" * 5])
    assert expression is not None
    parts = expression.split(" AND ")
    assert len(parts) == 10  # 50 characters, 10 distinct trigrams
    text = "".join(chr(ord("a") + i % 26) + str(i) for i in range(40))
    long = match_expression([text])
    assert long is not None
    parts = long.split(" AND ")
    assert len(parts) == 24
    assert parts[0] == f'"{text[:3]}"' and parts[-1] == f'"{text[-3:]}"'
