"""The packed form of a block (logsvc.store.packing): its entries come back exactly as the
block's JSON array held them, whatever they hold."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from logsvc.filters import SearchFilters
from logsvc.store.packing import matching, pack_statement, unpacked

_TEXT = st.text(max_size=30)
_METADATA = st.none() | st.dictionaries(
    st.text(max_size=8),
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT,
    max_size=4,
)
# An entry as each layout wrote it: [timestamp, message, metadata] (migrated rows), then its
# id, its level, and the nanoseconds past its millisecond.
_ENTRY = st.tuples(
    st.integers(min_value=0, max_value=253_402_300_799_999), _TEXT, _METADATA
).flatmap(
    lambda head: st.one_of(
        st.just(list(head)),
        st.builds(lambda i: [*head, i], _TEXT),
        st.builds(lambda i, lv: [*head, i, lv], _TEXT, st.sampled_from(["INFO", "ERROR"])),
        st.builds(lambda i, n: [*head, i, "DEBUG", n], _TEXT, st.integers(0, 999_999)),
    )
)


@given(st.lists(st.none() | _ENTRY, min_size=1, max_size=40))
def test_entries_come_back_as_the_json_array_held_them(entries):
    text = orjson.dumps(entries)
    statement = pack_statement("block", text)
    packed_hex, block_id, length = statement.params
    assert (block_id, length) == ("block", len(text))
    assert unpacked(packed_hex) == entries
    assert orjson.dumps(unpacked(packed_hex)) == text


def test_packed_is_smaller_than_the_json_of_alike_entries():
    entries = [
        [
            1_790_000_000_000 + n * 3,
            f"GET /orders/{n} 200 in {n % 97}ms",
            {"region": "eu"},
            f"01a0a043-e800-7a3a-b9e7-{n:012x}",
            "INFO",
        ]
        for n in range(500)
    ]
    text = orjson.dumps(entries)
    packed_hex = pack_statement("block", text).params[0]
    assert len(packed_hex) / 2 < len(text) / 4


def test_what_a_read_returns_is_its_own_not_what_is_kept():
    """A packed block read is kept read (for the next refresh of the same page): changing
    an entry a read returned changes nothing another read returns."""
    entries = [
        [1_000 + n, f"m{n}", {"user": {"id": n}, "n": n}, f"id{n}", "ERROR"] for n in range(5)
    ]
    (packed_hex, _, _) = pack_statement("block", orjson.dumps(entries)).params
    block = {
        "block_id": "block",
        "level": "ERROR",
        "service_name": "api",
        "source_type": "app",
        "archive_key": None,
        "entry_count": 5,
        "packed": packed_hex,
    }
    first = matching(block, SearchFilters(level="ERROR"), newest=5)
    for entry in first:
        entry["metadata"]["user"]["id"] = "changed"
        entry["metadata"].clear()
    again = matching(block, SearchFilters(level="ERROR"), newest=2)
    assert [e["metadata"] for e in again] == [{"user": {"id": n}, "n": n} for n in (3, 4)]
    assert unpacked(packed_hex) == entries
