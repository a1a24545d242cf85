import pytest

from logsvc.schedules import SCHEDULES, eventbridge_expression


@pytest.mark.parametrize(
    ("cron", "expression"),
    [
        ("0 2 * * *", "cron(0 2 * * ? *)"),
        ("0 */6 * * *", "cron(0 0/6 * * ? *)"),
        ("15 3 * * 1", "cron(15 3 ? * 1 *)"),
    ],
)
def test_eventbridge_expressions(cron, expression):
    assert eventbridge_expression(cron) == expression


def test_the_original_schedules():
    assert SCHEDULES == {"cleanup": "0 2 * * *", "analyze": "0 */6 * * *"}
