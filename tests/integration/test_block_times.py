"""Time summaries of sealed blocks (logsvc.store.block_times): counts and bytes per time
bucket read from them equal those counted from every entry, for any buckets, levels,
pushed labels and range ends, as blocks are sealed, appended to and expired, on SQLite,
the D1 REST stand-in and real D1 (workerd, through the bridge)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import orjson

from logsvc import components
from logsvc.entries import MAX_INDEXED_MESSAGE_CHARS, LogEntry
from logsvc.filters import SearchFilters
from logsvc.ids import entry_id
from logsvc.sql import blob_bytes, blob_column
from logsvc.store import block_times, summary_cache
from logsvc.store.blocks import MAX_BLOCK_SPAN_MS
from logsvc.store.log_index import LogIndex
from logsvc.store.open_blocks import OpenBlocks
from logsvc.store.packing import restore_statements
from logsvc.store.summary_cache import SummaryCache
from logsvc.store.timelines import Timeline

NOW = 1_790_000_000_000
MINUTE = 60_000
DAY = 86_400_000


def corpus(seed: int = 7) -> list[list[LogEntry]]:
    """Flushes of three services, late entries from the hour before, mixed levels, and
    pushed labels that differ inside a level (two streams of one level in a block)."""
    rng = random.Random(seed)
    flushes = []
    for number in range(40):
        entries = []
        for _ in range(rng.randrange(5, 40)):
            at = NOW + number * 4_000 + rng.randrange(4_000)
            if rng.random() < 0.2:
                at -= rng.randrange(3_600_000)
            metadata = {"n": rng.randrange(100)}
            if rng.random() < 0.3:
                metadata["labels"] = {"env": rng.choice(("prod", "dev")), "app": "x"}
            entries.append(
                LogEntry(
                    entry_id(at),
                    rng.choice(("a", "b", "c")),
                    rng.choice(("DEBUG", "INFO", "INFO", "WARN", "ERROR", "CRITICAL")),
                    "m" * rng.randrange(1, 40) + " é",
                    at,
                    metadata,
                )
            )
        flushes.append(entries)
    return flushes


def expected(entries, filters: SearchFilters, origin: int, bucket_ms: int) -> Counter:
    counted: Counter = Counter()
    for e in entries:
        seen = {
            "service_name": e.service_name,
            "level": e.level,
            "timestamp": e.timestamp,
            "message": e.message,
            "metadata": e.metadata,
        }
        if not filters.matches(seen):
            continue
        labels = e.metadata.get("labels")
        key = (
            (e.timestamp - origin) // bucket_ms,
            e.level,
            e.service_name,
            e.source_type,
            orjson.dumps(labels).decode() if labels else None,
        )
        counted[(*key, "entries")] += 1
        counted[(*key, "bytes")] += len(e.message.encode())
    return counted


def tallied(index: LogIndex, filters: SearchFilters, origin: int, bucket_ms: int) -> Counter:
    counted: Counter = Counter()
    for bucket, level, service, source, labels, entries, size in index.tallies(
        filters, origin, bucket_ms
    ):
        key = (bucket, level, service, source, labels)
        counted[(*key, "entries")] += entries
        counted[(*key, "bytes")] += size
    return +counted


SHAPES = [
    (SearchFilters(start_time=NOW - 3_600_000, end_time=NOW + 200_000), 5 * MINUTE),
    (SearchFilters(service="a", start_time=NOW - 1_234_567, end_time=NOW + 99_999), MINUTE),
    (SearchFilters(level="ERROR", start_time=NOW - 600_001, end_time=NOW + 160_000), 7_001),
    (SearchFilters(service="b", level="INFO", start_time=NOW, end_time=NOW + 1), 1_000),
    # Times after the range's start past 2**31 ms: counted in 64 bits, not 32.
    (SearchFilters(service="c", start_time=NOW - 30 * DAY, end_time=NOW + 200_000), DAY),
]


def test_summaries_count_what_the_entries_hold(api_any_db):
    db = components.database()
    index = LogIndex(db, open_blocks=OpenBlocks())
    flushes = corpus()
    for number, batch in enumerate(flushes):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    entries = [e for batch in flushes for e in batch]
    rows = db.query("SELECT count(*) AS n, count(words_doc) AS sealed FROM log_blocks")
    summaries = db.query("SELECT count(*) AS n FROM block_times")[0]["n"]
    assert 0 < summaries == rows[0]["sealed"] < rows[0]["n"]  # some open still
    for filters, bucket_ms in SHAPES:
        origin = filters.start_time  # as the engine asks: no entry before it
        assert tallied(index, filters, origin, bucket_ms) == expected(
            entries, filters, origin, bucket_ms
        ), filters
    # The same answers from the entries alone (an index that kept no summary).
    index.seal_open(NOW + 3_600_000, 100)
    assert db.query("SELECT count(*) AS n FROM block_times")[0]["n"] == rows[0]["n"]
    from_summaries = [tallied(index, f, f.start_time, b) for f, b in SHAPES]
    db.execute("DELETE FROM block_times")
    fresh = LogIndex(db)
    assert [tallied(fresh, f, f.start_time, b) for f, b in SHAPES] == from_summaries


class CountingReads:
    """A database whose queries for summaries are counted (the rest passed through)."""

    def __init__(self, db):
        self.db, self.summary_reads, self.key_reads = db, 0, 0

    def __getattr__(self, name):
        return getattr(self.db, name)

    def query(self, sql, params=()):
        self.summary_reads += "FROM block_times WHERE doc IN" in sql
        self.key_reads += "json_group_array(id || ':' || entry_count)" in sql
        return self.db.query(sql, params)


def test_kept_summaries_are_read_once_and_follow_expiry_and_new_blocks(api_any_db):
    """A summary read once is kept (logsvc.store.summary_cache) for as long as its block
    keeps its entries: a chart asked again reads no summary; one whose block lost entries
    to expiry is read again, and a new block's is read when it is sealed."""
    db = CountingReads(components.database())
    index = LogIndex(db)  # each flush's blocks sealed as written
    flushes = corpus(seed=5)
    for number, batch in enumerate(flushes[:30]):
        index.write(index.prepare(batch, f"flush-{number}"), {})

    def check(entries) -> None:
        for filters, bucket_ms in SHAPES:
            origin = filters.start_time
            assert tallied(index, filters, origin, bucket_ms) == expected(
                entries, filters, origin, bucket_ms
            ), filters

    written = [e for batch in flushes[:30] for e in batch]
    check(written)
    assert db.summary_reads > 0
    db.summary_reads = 0
    check(written)
    assert db.summary_reads == 0  # every summary kept
    for number, batch in enumerate(flushes[30:], 30):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    written = [e for batch in flushes for e in batch]
    check(written)
    assert db.summary_reads > 0  # the new blocks' summaries
    cutoff = NOW + 20 * 4_000 + 123
    for service in ("a", "b", "c"):
        while not index.expire(service, cutoff, 5).finished:
            pass
    check([e for e in written if e.timestamp >= cutoff])


def decodes(monkeypatch) -> list[int]:
    """How many summaries each count decodes from now on (block_times.decoded wrapped)."""
    counted: list[int] = []
    decoded = block_times.decoded

    def decoding(read):
        counted.append(len(read))
        return decoded(read)

    monkeypatch.setattr(block_times, "decoded", decoding)
    return counted


def test_counts_are_kept_per_query_and_only_new_blocks_counted(api_any_db, monkeypatch):
    """What a query's summaries count is kept (SummaryCache.count): asked again, no summary
    is counted; after new blocks are sealed, only theirs; after expiry, every one again. The
    open blocks' entries are added to a copy each time, never to what is kept."""
    counted = decodes(monkeypatch)
    db = components.database()
    index = LogIndex(db, open_blocks=OpenBlocks())  # blocks stay open until sealed here
    flushes = corpus(seed=13)

    def write(numbers: range) -> None:
        index.seal_open(NOW + 3_600_000, 1_000)  # the blocks written before
        for number in numbers:
            index.write(index.prepare(flushes[number], f"flush-{number}"), {})

    write(range(20))
    write(range(20, 30))
    filters, bucket_ms = SHAPES[0]

    def check(entries) -> None:
        for _ in range(3):
            assert tallied(index, filters, filters.start_time, bucket_ms) == expected(
                entries, filters, filters.start_time, bucket_ms
            )

    def sealed() -> int:
        return db.query("SELECT count(*) AS n FROM block_times")[0]["n"]

    check([e for batch in flushes[:30] for e in batch])
    assert counted == [sealed()] and counted[0] > 0  # once, then kept
    before, counted[:] = sealed(), []
    write(range(30, len(flushes)))
    written = [e for batch in flushes for e in batch]
    check(written)
    assert counted == [sealed() - before] and counted[0] > 0  # the new blocks alone
    counted[:] = []
    cutoff = NOW + 20 * 4_000 + 123
    for service in ("a", "b", "c"):
        while not index.expire(service, cutoff, 5).finished:
            pass
    check([e for e in written if e.timestamp >= cutoff])
    assert counted == [sealed()]  # blocks lost entries: every summary counted again


def test_a_chart_whose_range_moves_counts_from_its_timeline(api_any_db, monkeypatch):
    """A chart on "the last hour" asks a range a little later at each refresh: from its
    second count its blocks' points are kept sorted (logsvc.store.timelines), and each
    later range decodes only the summaries of blocks it does not hold. Counts stay what the
    entries hold as the range moves, new blocks are sealed, and expiry changes blocks in
    the range."""
    counted = decodes(monkeypatch)
    db = components.database()
    index = LogIndex(db)  # each flush's blocks sealed as written
    flushes = corpus(seed=17)
    for number, batch in enumerate(flushes[:30]):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    written = [e for batch in flushes[:30] for e in batch]

    def check(entries, shift: int, **selection) -> None:
        start, end = NOW - 3_000_000 + shift * 7_001, NOW + 60_000 + shift * 13_003
        filters = SearchFilters(start_time=start, end_time=end, **selection)
        for origin, bucket_ms in ((start, MINUTE), (start - 50_000, 7_001)):
            assert tallied(index, filters, origin, bucket_ms) == expected(
                entries, filters, origin, bucket_ms
            ), (shift, selection, bucket_ms)

    for shift in range(8):
        check(written, shift, service="a")
    summaries = counted[1]  # the second count built the timeline
    assert counted[0] == summaries > 0
    assert all(n < summaries // 2 for n in counted[2:])  # the blocks it did not hold, if any
    for shift in range(8):  # a level's counts: a selection of its own
        check(written, shift, service="b", level="ERROR")
    for number, batch in enumerate(flushes[30:34], 30):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    written = [e for batch in flushes[:34] for e in batch]
    for shift in range(8, 16):
        check(written, shift, service="a")
    cutoff = NOW + 10 * 4_000 + 123  # inside the ranges: blocks there lose entries
    for service in ("a", "b", "c"):
        while not index.expire(service, cutoff, 5).finished:
            pass
    # Most blocks changed here, which alone would have the timeline built again: only the
    # blocks gone from the range are to decide that.
    monkeypatch.setattr(summary_cache, "NEW_POINTS_SHARE", 100)
    for shift in range(16, 20):
        check([e for e in written if e.timestamp >= cutoff], shift, service="a")


def test_a_chart_paged_through_history_builds_no_timeline(api_any_db):
    """Ranges that share few blocks with the one before (paging back through history) are
    counted from their summaries: no timeline sorted for a range asked once. A range that
    moves a little builds one."""
    db = components.database()
    index = LogIndex(db)
    entries = []
    for number in range(12):  # a block every 10 s
        at = NOW + number * 10_000
        batch = [
            LogEntry(entry_id(at + n), "p", "INFO", "m" * n, at + n * 100, {}) for n in range(5)
        ]
        index.write(index.prepare(batch, f"flush-{number}"), {})
        entries += batch

    def check(start: int, end: int) -> None:
        filters = SearchFilters(service="p", start_time=start, end_time=end)
        assert tallied(index, filters, start, 5_000) == expected(entries, filters, start, 5_000)

    def timelines_built() -> int:
        return sum(isinstance(t, Timeline) for t in index.summaries._timelines.values())

    for page in range(6):  # two blocks a page
        check(NOW + 100_000 - (page + 1) * 20_000, NOW + 100_000 - page * 20_000 - 1)
    assert timelines_built() == 0
    check(NOW, NOW + 60_000)
    check(NOW + 1, NOW + 60_001)  # the same blocks: a chart whose range moves
    assert timelines_built() == 1


def test_charts_whose_points_fit_no_timeline_count_them_each_time(api_any_db, monkeypatch):
    """Points more than 2**32 ms (49 days) apart, or more of them than timelines may hold:
    no timeline, and counts as the entries hold them, however the range moves."""
    db = components.database()
    index = LogIndex(db)
    entries = []
    for number, days in enumerate((60, 59, 1, 0)):
        at = NOW - days * DAY
        batch = [LogEntry(entry_id(at + n), "old", "INFO", "m" * n, at + n, {}) for n in range(5)]
        index.write(index.prepare(batch, f"flush-{number}"), {})
        entries += batch

    def check() -> None:
        for shift in range(3):
            filters = SearchFilters(service="old", start_time=NOW - 61 * DAY + shift, end_time=NOW)
            origin = filters.start_time
            assert tallied(index, filters, origin, DAY) == expected(entries, filters, origin, DAY)

    check()
    assert not any(isinstance(t, Timeline) for t in index.summaries._timelines.values())
    monkeypatch.setattr(summary_cache, "TIMELINE_POINTS", 5)
    index.summaries = SummaryCache()
    entries = [e for e in entries if e.timestamp >= NOW - DAY]
    while not index.expire("old", NOW - DAY, 5).finished:
        pass
    check()  # 10 points: more than timelines may hold
    assert not any(isinstance(t, Timeline) for t in index.summaries._timelines.values())


def test_kept_summaries_stay_within_their_budget(api_any_db, monkeypatch):
    """Past its budget the cache lets the first summaries kept go, and counts stay right;
    summaries are read in runs that fit one answer (D1 holds no value over 2 MB)."""
    monkeypatch.setattr(summary_cache, "MAX_ANSWER_BYTES", 3_000)  # a few summaries a query
    db = CountingReads(components.database())
    index = LogIndex(db)
    flushes = corpus(seed=9)
    for number, batch in enumerate(flushes):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    index.summaries = SummaryCache(max_bytes=2_000)
    entries = [e for batch in flushes for e in batch]
    for again in (False, True):
        for filters, bucket_ms in SHAPES:
            origin = filters.start_time
            assert tallied(index, filters, origin, bucket_ms) == expected(
                entries, filters, origin, bucket_ms
            ), filters
            assert 0 < index.summaries.kept_bytes() <= 2_000
        if not again:
            assert db.summary_reads > 2 * len(SHAPES)  # several runs a read
            db.summary_reads = 0
    # Asked again, what each query counted is kept: no summary is read again, though most
    # were let go.
    assert db.summary_reads == 0


def test_keys_are_read_in_runs_that_fit_one_answer(api_any_db, monkeypatch):
    """The blocks a count wants are listed a few at a time (D1 holds no value over 2 MB: a
    busy service's week of keys would be past it), oldest first: blocks that end in the
    same millisecond are neither missed nor counted twice where a run ends between them."""
    monkeypatch.setattr(summary_cache, "KEYS_PER_QUERY", 2)
    db = CountingReads(components.database())
    index = LogIndex(db)  # each flush's blocks sealed as written
    entries = []
    for number in range(6):
        at = NOW + number * 4_000  # every service's block of a flush ends at the same time
        batch = [
            LogEntry(entry_id(at), service, level, f"{service} {number}", at, {})
            for service in ("a", "b", "c")
            for level in ("INFO", "ERROR")
        ]
        index.write(index.prepare(batch, f"flush-{number}"), {})
        entries += batch
    filters = SearchFilters(start_time=NOW, end_time=NOW + 60_000)
    for _ in range(2):  # read, then kept
        assert tallied(index, filters, NOW, MINUTE) == expected(entries, filters, NOW, MINUTE)
    assert db.key_reads >= 18  # 18 blocks, two a read, twice


def test_summaries_follow_expiry(api_any_db):
    db = components.database()
    index = LogIndex(db)
    flushes = corpus(seed=11)
    for number, batch in enumerate(flushes):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    cutoff = NOW + 20 * 4_000 + 123
    for service in ("a", "b", "c"):
        while not index.expire(service, cutoff, 5).finished:
            pass
    kept = [e for batch in flushes for e in batch if e.timestamp >= cutoff]
    blocks = db.query("SELECT count(*) AS n FROM log_blocks")[0]["n"]
    assert db.query("SELECT count(*) AS n FROM block_times")[0]["n"] == blocks
    for filters, bucket_ms in SHAPES:
        origin = filters.start_time  # as the engine asks: no entry before it
        assert tallied(index, filters, origin, bucket_ms) == expected(
            kept, filters, origin, bucket_ms
        ), filters
    for service in ("a", "b", "c"):
        while not index.expire(service, NOW + 3_600_000, 50).finished:
            pass
    assert db.query("SELECT count(*) AS n FROM block_times")[0]["n"] == 0


def test_newest_first_searches_bounded_by_summaries_answer_what_a_scan_answers(api_any_db):
    """A newest-first search reads only the blocks that can hold its answer, bounded by the
    time summaries of the newest blocks (LogIndex.search): sealed and open blocks, late
    entries widening blocks, levels, time ranges and pages answer as a scan of every
    entry does."""
    db = components.database()
    index = LogIndex(db, open_blocks=OpenBlocks())
    flushes = corpus(seed=5)
    for number, batch in enumerate(flushes):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    entries = [e for batch in flushes for e in batch]
    shapes = [
        SearchFilters(service="a", limit=50),
        SearchFilters(service="b", level="ERROR", limit=10),
        SearchFilters(level="WARN", limit=7, offset=5),
        SearchFilters(service="c", start_time=NOW - 1_800_000, end_time=NOW + 60_000, limit=20),
        SearchFilters(start_time=NOW + 100_000, end_time=NOW + 140_000, limit=3, offset=2),
    ]
    for filters in shapes:
        found, more = index.search(filters)
        matching = sorted(
            (
                e
                for e in entries
                if filters.matches(
                    {
                        "service_name": e.service_name,
                        "level": e.level,
                        "timestamp": e.timestamp,
                        "message": e.message,
                        "metadata": e.metadata,
                    }
                )
            ),
            key=lambda e: (e.timestamp, e.id),
            reverse=True,
        )
        page = matching[filters.offset : filters.offset + filters.limit]
        assert [entry["id"] for entry in found] == [e.id for e in page], filters
        assert more == (len(matching) > filters.offset + filters.limit)


def test_summaries_are_packed_and_those_written_before_still_count(api_any_db):
    """Summaries written now keep seven bytes a point (migration 0015); those written before
    it list times and sizes in JSON. Both count alike, side by side."""
    db = components.database()
    index = LogIndex(db)
    flushes = corpus(seed=3)
    for number, batch in enumerate(flushes):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    entries = [e for batch in flushes for e in batch]
    rows = db.query(
        f"SELECT doc, times, streams, {blob_column(db, 'points')} AS points, "  # noqa: S608
        "(SELECT entry_count FROM log_blocks WHERE words_doc = doc) AS entry_count "
        "FROM block_times ORDER BY doc"
    )
    assert rows
    for row in rows[::2]:  # every other one as an older release wrote it
        points = np.frombuffer(blob_bytes(row["points"]), np.dtype(block_times.POINT))
        assert len(points) == row["entry_count"]
        streams, times = orjson.loads(row["streams"]), orjson.loads(row["times"])
        assert [s[:2] for s in times] == streams[2]
        listed = []
        for number, (level, labels, stream_times) in enumerate(times):
            stream = np.sort(points[points["stream"] == number], order="at")
            assert stream_times == stream["at"].tolist()
            listed.append([level, labels, stream["at"].tolist(), stream["size"].tolist()])
        db.execute(
            "UPDATE block_times SET streams = ?, points = NULL, times = NULL WHERE doc = ?",
            (orjson.dumps(listed).decode(), row["doc"]),
        )
    for filters, bucket_ms in SHAPES:
        origin = filters.start_time
        assert tallied(index, filters, origin, bucket_ms) == expected(
            entries, filters, origin, bucket_ms
        ), filters


def test_points_are_written_only_where_they_fit(api_any_db):
    """A block spans at most MAX_BLOCK_SPAN_MS and an indexed message is at most
    MAX_INDEXED_MESSAGE_CHARS characters, so every summary's points fit their 32-bit times
    and 16-bit sizes; a block written otherwise (by hand here) gets no summary and is
    counted from its entries, as a block of an older release would be."""
    assert MAX_BLOCK_SPAN_MS < 1 << 32 and 4 * MAX_INDEXED_MESSAGE_CHARS < 1 << 16
    db = components.database()
    index = LogIndex(db)
    batch = [LogEntry(entry_id(NOW + n), s, "INFO", "m", NOW + n, {}) for n, s in enumerate("ab")]
    index.write(index.prepare(batch, "flush"), {})
    assert db.query("SELECT count(*) AS n FROM block_times")[0]["n"] == 2
    db.execute("DELETE FROM block_times")
    db.batch(restore_statements(db, "1 = 1", ()))  # summaries are computed from plain entries
    db.execute("UPDATE log_blocks SET first_ts = first_ts - ? WHERE service_name = 'a'", (1 << 32,))
    db.batch([block_times.write_statement("1 = 1", ())])
    assert [r["service_name"] for r in db.query("SELECT service_name FROM block_times")] == ["b"]
    # Counted beside the other's summary: one block from its entries, one from its points.
    whole = SearchFilters(start_time=NOW - (1 << 33), end_time=NOW + MINUTE)
    assert tallied(LogIndex(db), whole, whole.start_time, DAY) == expected(
        batch, whole, whole.start_time, DAY
    )


def test_long_pages_of_overlapping_blocks_answer_what_a_scan_answers(api_any_db):
    """Pages longer than a block's stream, over blocks that overlap in time, bounded by
    the summaries' times; many entries share a millisecond (a packed block shapes only
    its newest, ties included: packing.matching)."""
    db = components.database()
    index = LogIndex(db)
    rng = random.Random(9)
    flushes = [
        [
            LogEntry(entry_id(at), "a", "INFO", f"m{at}", at, {})
            for at in sorted(NOW + n * 60_000 - rng.randrange(200) * 3_000 for _ in range(300))
        ]
        for n in range(4)
    ]
    for number, batch in enumerate(flushes):
        index.write(index.prepare(batch, f"flush-{number}"), {})
    entries = sorted(
        (e for batch in flushes for e in batch), key=lambda e: (e.timestamp, e.id), reverse=True
    )
    for limit, offset in [(5, 2), (50, 0), (128, 0), (250, 40), (700, 1)]:
        found, more = index.search(SearchFilters(service="a", limit=limit, offset=offset))
        assert [entry["id"] for entry in found] == [e.id for e in entries[offset : offset + limit]]
        assert more == (len(entries) > offset + limit)
