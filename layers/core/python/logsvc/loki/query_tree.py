"""The tree of a parsed LogQL query (logsvc.loki.logql's grammar), turned into the
dataclasses of logsvc.loki.expressions as Lark reduces it, and refused with a 400 where
Loki refuses it. Imported by the parser on its first use (it imports lark)."""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer

from logsvc.loki import checks, templates
from logsvc.loki.expressions import (
    AllOf,
    AnyOf,
    Compare,
    Decolorize,
    Drop,
    Grouping,
    Keep,
    LabelFilter,
    LabelFormat,
    LabelReplace,
    LineFilter,
    LineFormat,
    LogQuery,
    LogRange,
    Matcher,
    Matching,
    NamedMatcher,
    Needle,
    Number,
    Parser,
    RangeAggregation,
    Unwrap,
    Variants,
    VectorAggregation,
    VectorLiteral,
)
from logsvc.loki.literals import byte_count, duration_ms, go_string, number
from logsvc.loki.matching import LogQLError, match_text, regex


def _words(items: list) -> list:
    return [x for x in items if x is not None]


class ToQuery(Transformer):
    # -- metric expressions ---------------------------------------------------------

    def signed(self, items: list) -> float:
        sign = -1.0 if len(items) == 2 and str(items[0]) == "-" else 1.0
        return sign * number(str(items[-1]))

    def number(self, items: list) -> Number:
        return Number(items[0])

    def vector_literal(self, items: list) -> VectorLiteral:
        return VectorLiteral(items[1])

    def modifier(self, items: list) -> Matching:
        return_bool, matching = items
        found = matching or Matching()
        return Matching(return_bool is not None, found.on, found.labels, found.card, found.include)

    def matching(self, items: list) -> Matching:
        kind, names, side, include = items
        card = "one_to_one"
        if side is not None:
            card = "many_to_one" if str(side).lower() == "group_left" else "one_to_many"
        return Matching(False, str(kind).lower() == "on", names, card, include or ())

    def labels(self, items: list) -> tuple[str, ...]:
        return tuple(str(x) for x in _words(items))

    def binary(self, items: list) -> Any:
        left, op, matching, right = items
        return checks.binary(str(op).lower(), left, right, matching)

    def grouping(self, items: list) -> Grouping:
        kind, names = items
        return Grouping(str(kind).lower() == "without", names)

    def range_agg(self, items: list) -> RangeAggregation:
        function, parameter, log_range, grouping = items
        return checks.range_aggregation(str(function).lower(), log_range, grouping, parameter)

    def vector_agg(self, items: list) -> VectorAggregation:
        op, before, first, second, after = items
        return checks.vector_aggregation(str(op).lower(), first, second, before or after)

    def label_replace(self, items: list) -> LabelReplace:
        _, inner, destination, replacement, source, pattern = items
        found = LabelReplace(
            inner,
            go_string(destination),
            go_string(replacement),
            go_string(source),
            go_string(pattern),
        )
        regex(found.regex)  # checked now: an invalid one is the client's 400
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", found.destination):
            raise LogQLError(
                f"query: invalid destination label name in label_replace: {found.destination!r}"
            )
        return found

    def variants(self, items: list) -> Variants:
        _, *queries, _, log_range = items
        return Variants(tuple(queries), log_range)

    # -- log ranges -----------------------------------------------------------------

    def range_after_selector(self, items: list) -> LogRange:
        selector, window, offset, *rest = items
        unwrap = rest.pop() if rest else None
        return _log_range(LogQuery(selector, tuple(rest)), window, offset, unwrap)

    def range_after_pipeline(self, items: list) -> LogRange:
        selector, pipeline, window, offset = items
        stages, unwrap = pipeline or ((), None)
        return _log_range(LogQuery(selector, stages), window, offset, unwrap)

    def log_range(self, items: list) -> LogRange:
        return items[0]  # ( log_range )

    def pipeline(self, items: list) -> tuple[tuple, Unwrap | None]:
        unwrap = items[-1] if isinstance(items[-1], Unwrap) or items[-1] is None else None
        stages = tuple(x for x in items if x is not None and not isinstance(x, Unwrap))
        return stages, unwrap

    def offset(self, items: list) -> int:
        return duration_ms(str(items[1]))

    def unwrap(self, items: list) -> Unwrap:
        conversion = ""
        if isinstance(items[1], Token) and items[1].type == "CONVERSION":
            conversion = str(items[1]).lower()
            label, filters = str(items[2]), items[3:]
        else:
            label, filters = str(items[1]), items[2:]
        return Unwrap(label, conversion, tuple(LabelFilter(f) for f in filters))

    # -- log queries ----------------------------------------------------------------

    def log_query(self, items: list) -> LogQuery:
        selector, *stages = items
        return LogQuery(selector, tuple(stages))

    def selector(self, items: list) -> tuple[Matcher, ...]:
        matchers = tuple(_words(items))
        if not matchers or all(_matches_empty(m) for m in matchers):
            raise LogQLError(
                "query: queries require at least one regexp or equality matcher that "
                'does not have an empty-compatible value, such as {service_name="checkout"}'
            )
        return matchers

    def matcher(self, items: list) -> Matcher:
        label, op, value = items
        found = Matcher(str(label), str(op), go_string(value))
        if found.op in ("=~", "!~"):
            regex(found.value)
        return found

    def needle(self, items: list) -> Needle:
        if len(items) == 2:
            return Needle(_ip_pattern(go_string(items[1])), ip=True)
        return Needle(go_string(items[0]))

    def line_filter(self, items: list) -> LineFilter:
        op, *needles = (x for x in items if not (isinstance(x, Token) and x.type == "OR"))
        found = LineFilter(str(op), tuple(needles))
        for needle in found.needles:
            if found.op in ("|~", "!~") and not needle.ip:
                regex(needle.text)
            if found.op in ("|>", "!>") and not needle.ip:
                from logsvc.loki.parsers import line_pattern

                line_pattern(needle.text)
        return found

    def json(self, items: list) -> Parser:
        from logsvc.loki.parsers import json_path

        extract = tuple(_words(items[1:]))
        for _, path in extract:
            json_path(path)  # checked now
        return Parser("json", extract=extract)

    def logfmt(self, items: list) -> Parser:
        flags = tuple(sorted({str(x) for x in items[1:] if isinstance(x, Token)}))
        for flag in flags:
            if flag not in ("--strict", "--keep-empty"):
                raise LogQLError(f"query: logfmt has no flag {flag} (--strict, --keep-empty)")
        extract = tuple(x for x in items[1:] if isinstance(x, tuple))
        return Parser("logfmt", extract=extract, flags=flags)

    def extraction(self, items: list) -> tuple[str, str]:
        label, _, path = items
        return str(label), go_string(path) if path is not None else str(label)

    def regexp(self, items: list) -> Parser:
        from logsvc.loki.parsers import named_groups

        expression = go_string(items[1])
        named_groups(expression)
        return Parser("regexp", expression)

    def pattern(self, items: list) -> Parser:
        from logsvc.loki.parsers import extraction_pattern

        expression = go_string(items[1])
        extraction_pattern(expression)
        return Parser("pattern", expression)

    def unpack(self, items: list) -> Parser:
        return Parser("unpack")

    def xml(self, items: list) -> Parser:
        raise LogQLError("query: the xml parser is not supported here (docs/LOKI.md)")

    def line_format(self, items: list) -> LineFormat:
        template = go_string(items[1])
        templates.compile_template(template)
        return LineFormat(template)

    def label_format(self, items: list) -> LabelFormat:
        assignments = tuple(items[1:])
        targets = [a[0] for a in assignments]
        if len(set(targets)) != len(targets):
            raise LogQLError("query: label_format: a label may be formatted only once")
        return LabelFormat(assignments)

    def assignment(self, items: list) -> tuple[str, str, bool]:
        label, _, source = items
        if source.type == "STRING":
            template = go_string(source)
            templates.compile_template(template)
            return str(label), template, True
        return str(label), str(source), False

    def named(self, items: list) -> NamedMatcher:
        label, *rest = _words(items)
        if not rest:
            return NamedMatcher(str(label))
        return NamedMatcher(str(label), self.matcher([label, *rest]))

    def drop(self, items: list) -> Drop:
        return Drop(tuple(items[1:]))

    def keep(self, items: list) -> Keep:
        return Keep(tuple(items[1:]))

    def decolorize(self, items: list) -> Decolorize:
        return Decolorize()

    def label_filter(self, items: list) -> LabelFilter:
        return LabelFilter(items[0])

    def any_of(self, items: list) -> Any:
        parts = tuple(x for x in items if not isinstance(x, Token))
        return parts[0] if len(parts) == 1 else AnyOf(parts)

    def all_of(self, items: list) -> Any:
        parts = tuple(x for x in items if not isinstance(x, Token))
        return parts[0] if len(parts) == 1 else AllOf(parts)

    def compare_ip(self, items: list) -> Compare:
        label, op, _, text = items
        if str(op) not in ("=", "!=", "=="):
            raise LogQLError(f"query: ip() compares with = or != only, not {op}")
        return Compare(
            str(label), "!=" if str(op) == "!=" else "==", _ip_pattern(go_string(text)), "ip"
        )

    def compare(self, items: list) -> Compare:
        label, op, value = str(items[0]), str(items[1]), items[2]
        if isinstance(value, float):
            if op in ("=~", "!~"):
                raise LogQLError(f"query: {op} takes a quoted regular expression")
            return Compare(label, "==" if op == "=" else op, value, "number")
        kind = value.type
        if kind == "STRING":
            if op not in ("=", "!=", "=~", "!~"):
                raise LogQLError(f"query: {op} compares numbers, durations or bytes")
            text = go_string(value)
            if op in ("=~", "!~"):
                regex(text)
            return Compare(label, op, text)
        if op in ("=~", "!~"):
            raise LogQLError(f"query: {op} takes a quoted regular expression")
        op = "==" if op == "=" else op
        if kind == "DURATION":
            return Compare(label, op, duration_ms(str(value)), "duration")
        return Compare(label, op, byte_count(str(value)), "bytes")


def _log_range(query: LogQuery, window: Any, offset: int | None, unwrap: Unwrap | None) -> LogRange:
    text = str(window)[1:-1].strip()
    return LogRange(query, duration_ms(text), offset or 0, unwrap)


def _ip_pattern(text: str) -> str:
    from logsvc.loki.parsers import ip_matcher

    ip_matcher(text)  # checked now
    return text


def _matches_empty(matcher: Matcher) -> bool:
    return match_text(matcher.op, "", matcher.value)
