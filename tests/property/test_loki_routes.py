"""Fuzzing the Loki API (hypothesis): pushes in every encoding, and LogQL queries, both
made of pieces of the real syntax and of anything at all. Whatever arrives, the answer is
never a 5xx (504, the query timeout, aside: none of these can take that long)."""

from __future__ import annotations

import gzip
import json

import cramjam
from hypothesis import given
from hypothesis import strategies as st

from logsvc.loki.logql import LogQLError, parse
from tests.property.strategies import json_values
from tests.property.test_ingest_routes import FUZZ, answered, fuzzed  # noqa: F401 - fixture

labels = st.dictionaries(
    st.sampled_from(["service_name", "service", "app", "job", "level", "severity", "x"]),
    st.text(max_size=20),
    max_size=4,
)
values = st.lists(
    st.lists(st.text(max_size=20) | json_values, min_size=1, max_size=3) | json_values,
    max_size=3,
)
streams = st.lists(
    st.fixed_dictionaries({"stream": labels | json_values, "values": values})
    | st.fixed_dictionaries({"labels": st.text(max_size=40), "entries": json_values}),
    max_size=3,
)
PIECES = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "|",
    "|=",
    "!=",
    "|~",
    "!~",
    "=",
    "=~",
    ">",
    ">=",
    "json",
    "logfmt",
    "line_format",
    "drop",
    "and",
    "or",
    "by",
    "without",
    "sum",
    "count",
    "topk",
    "rate",
    "count_over_time",
    "bytes_over_time",
    "vector",
    "__error__",
    "1",
    "5m",
    "10KB",
    "1.5",
    '"a"',
    '"(["',
    "`x`",
    "service_name",
    "level",
    "status",
    " ",
    "+",
    "/",
]
queries = st.lists(st.sampled_from(PIECES), max_size=14).map("".join) | st.text(max_size=60)


@FUZZ
@given(st.fixed_dictionaries({"streams": streams}) | json_values, st.booleans())
def test_json_pushes(fuzzed, document, compressed):  # noqa: F811 - the fixture
    body = json.dumps(document).encode()
    headers = {"content-type": "application/json"}
    if compressed:
        body, headers = gzip.compress(body), {**headers, "content-encoding": "gzip"}
    answered(fuzzed, "/loki/api/v1/push", body, headers)


@FUZZ
@given(st.binary(max_size=512), st.booleans())
def test_protobuf_pushes(fuzzed, payload, snappy):  # noqa: F811 - the fixture
    body = bytes(cramjam.snappy.compress_raw(payload)) if snappy else payload
    answered(fuzzed, "/loki/api/v1/push", body, {"content-type": "application/x-protobuf"})


@FUZZ
@given(queries)
def test_the_parser_refuses_with_its_own_error_or_parses(text):
    try:
        parse(text)
    except LogQLError as exc:
        assert exc.message.startswith("query:")


@FUZZ
@given(queries, st.sampled_from(["query", "query_range", "patterns", "series", "index/stats"]))
def test_queries_never_answer_a_server_error(fuzzed, text, route):  # noqa: F811 - the fixture
    parameters = {"query": text, "match[]": text, "limit": "20", "step": "60s"}
    answer = fuzzed.get(f"/loki/api/v1/{route}", **parameters)
    assert answer.status < 500, (route, text, answer.body)
