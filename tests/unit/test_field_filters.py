"""Field filters: the syntax, its errors, and the same answer in SQL (SQLite) and Python."""

import json
import sqlite3

import pytest

from logsvc.errors import BadRequest
from logsvc.field_filters import matcher, matches_all, parse, parse_one

METADATA = [
    {"error_code": "DB_TIMEOUT", "http": {"status": 503}, "path": "/Checkout/pay"},
    {"error_code": "db_timeout", "http": {"status": 200}, "user_id": None},
    {"error_code": "ÉCHEC", "http": {"status": "500"}, "ok": True},
    {"http": {"status": 500.0}, "ok": False, "path": "/échec/Straße"},
    {},
    None,
]


def sql_matches(text: str) -> list[int]:
    """Which METADATA entries SQLite keeps, as entries are stored: [ts, message, metadata]."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE e (n INTEGER, value TEXT)")
    db.executemany(
        "INSERT INTO e VALUES (?, ?)",
        [(n, json.dumps([0, "m", m], ensure_ascii=False)) for n, m in enumerate(METADATA)],
    )
    clause, params = parse_one(text).sql("value")
    return [n for (n,) in db.execute(f"SELECT n FROM e WHERE {clause} ORDER BY n", params)]  # noqa: S608


def python_matches(text: str) -> list[int]:
    found = parse_one(text)
    kept = [n for n, m in enumerate(METADATA) if found.matches(m)]
    # The same through matcher, which packed blocks' reads test their entries with.
    test = matcher([found])
    assert [n for n, m in enumerate(METADATA) if test(m)] == kept, text
    return kept


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metadata.error_code=DB_TIMEOUT", [0, 1]),  # case is ignored
        ("metadata.error_code=échec", [2]),  # for every script
        ("metadata.error_code!=DB_TIMEOUT", [2, 3, 4, 5]),  # different or absent
        ("metadata.http.status>=500", [0, 3]),  # JSON numbers only: "500" is text
        ("metadata.http.status<500", [1]),
        ("metadata.http.status=500", [2, 3]),  # 500 is the number or the text
        ("metadata.path~=checkout", [0]),
        ("metadata.path~=STRASSE", []),  # lower-casing, not full case folding
        ("metadata.path~=straße", [3]),
        ("metadata.user_id", [1]),  # present, even as null
        ("!metadata.user_id", [0, 2, 3, 4, 5]),
        ("metadata.ok=true", [2]),
        ("metadata.ok=false", [3]),
        ("metadata.http", [0, 1, 2, 3]),
        ("metadata.user_id=None", []),  # JSON null is no text
        ("metadata.ok=True", []),  # JSON literals are lower case: this is text
        ("metadata.path=/checkout/PAY", [0]),
    ],
)
def test_sql_and_python_agree_on_every_operator(text, expected):
    assert python_matches(text) == expected
    kept = sql_matches(text)
    if parse_one(text).needs_python():
        assert set(expected) <= set(kept)  # SQL narrows, Python decides
    else:
        assert kept == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("error_code=DB_TIMEOUT", "is not a filter"),
        ("metadata.=x", "is not a filter"),
        ("metadata.a b=x", "is not a filter"),
        ('metadata.a"b=x', "is not a filter"),
        ("metadata.status>=high", "compares numbers"),
        ("metadata.status>nan", "compares numbers"),
        ("!metadata.code=x", "'!' goes only before a field alone"),
        ("metadata.code=" + "x" * 201, "at most 200 characters"),
    ],
)
def test_a_malformed_filter_is_a_400_naming_the_parameter(text, says):
    with pytest.raises(BadRequest, match=says) as raised:
        parse_one(text)
    assert raised.value.field == "filter"


def test_several_filters_match_as_all_of_them():
    filters = parse(["metadata.error_code=db_timeout", "metadata.http.status>=500"])
    test = matcher(filters)
    assert [n for n, m in enumerate(METADATA) if test(m)] == [0]
    assert [n for n, m in enumerate(METADATA) if matches_all(filters, m)] == [0]


def test_at_most_ten_filters():
    with pytest.raises(BadRequest, match="at most 10"):
        parse(["metadata.a"] * 11)
    assert len(parse(["metadata.a"] * 10)) == 10


def test_a_filter_reads_back_as_written():
    for text in ("metadata.http.status>=500", "!metadata.user_id", "metadata.a.b~=x=y"):
        assert parse_one(text).text() == text
