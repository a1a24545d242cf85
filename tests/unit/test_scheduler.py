from datetime import UTC, datetime

from logsvc_local.scheduler import next_due, scheduled_jobs


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_jobs_run_at_the_original_times_in_utc():
    assert scheduled_jobs() == ["cleanup", "analyze"]
    both = ["cleanup", "analyze"]
    assert next_due(["cleanup"], at(26, 1, 30)) == ("cleanup", at(26, 2))
    assert next_due(both, at(26, 1, 30)) == ("cleanup", at(26, 2))
    assert next_due(both, at(26, 2, 30)) == ("analyze", at(26, 6))
    assert next_due(both, at(26, 23)) == ("analyze", at(27, 0))
    assert next_due(["cleanup"], at(26, 23)) == ("cleanup", at(27, 2))
