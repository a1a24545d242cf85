"""Time phrases of a question (logsvc.ask.times), at a fixed moment: 2026-12-07 10:30 UTC."""

from datetime import UTC, datetime

import pytest

from logsvc.ask.times import TimeError, find_range, zone_named

NOW = int(datetime(2026, 12, 7, 10, 30, tzinfo=UTC).timestamp() * 1000)


def at(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2026, 12, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("question", "zone", "start", "end"),
    [
        ("errors in the last 15 minutes", "UTC", at(7, 10, 15), NOW),
        ("errors in the past 2h", "UTC", at(7, 8, 30), NOW),
        ("errors in the last few minutes", "UTC", at(7, 10, 25), NOW),
        ("errors last week", "UTC", NOW - 7 * 86_400_000, NOW),
        ("since 9am", "UTC", at(7, 9), NOW),
        ("since 11am", "UTC", at(6, 11), NOW),  # later than now today: yesterday's
        ("since 9am", "Europe/Paris", at(7, 8), NOW),
        ("since midnight", "UTC", at(7, 0), NOW),
        ("since 3 hours ago", "UTC", at(7, 7, 30), NOW),
        ("yesterday", "UTC", at(6, 0), at(7, 0)),
        ("yesterday", "America/New_York", at(6, 5), at(7, 5)),
        ("today", "UTC", at(7, 0), NOW),
        ("on 2026-12-01", "UTC", at(1, 0), at(2, 0)),
        ("between 2 and 3 pm utc", "Europe/Paris", at(6, 14), at(6, 15)),  # the zone said wins
        ("between 9:00 and 10:00", "UTC", at(7, 9), at(7, 10)),
        ("between 11pm and 1am", "UTC", at(6, 23), at(7, 1)),  # across midnight
        ("from dec 1 to dec 3", "UTC", at(1, 0), at(3, 0)),
        # 2026-12-07 is a Monday
        ("since monday", "UTC", at(7, 0), NOW),
        ("since friday 9am", "UTC", at(4, 9), NOW),
        ("on friday", "UTC", at(4, 0), at(5, 0)),
        ("errors last saturday", "UTC", at(5, 0), at(6, 0)),
        ("since sunday", "UTC", at(6, 0), NOW),
    ],
)
def test_a_phrase_names_its_range(question, zone, start, end):
    found, rest = find_range(question, NOW, zone_named(zone))
    assert (found.start, found.end) == (start, end), found.words
    assert len(rest) == len(question)  # blanked, not cut: positions still line up


def test_no_phrase_is_none_and_the_question_unchanged():
    assert find_range("checkout errors about timeouts", NOW, zone_named("UTC")) == (
        None,
        "checkout errors about timeouts",
    )


def test_an_unknown_zone_is_refused_by_name():
    with pytest.raises(TimeError, match="Mars/Olympus"):
        zone_named("Mars/Olympus")
    assert zone_named("europe/paris").key == "Europe/Paris"
