"""When the maintenance functions run, as in the original: cleanup daily at 02:00 UTC,
analysis every 6 hours. The CDK stacks and the local server both read this table."""

SCHEDULES: dict[str, str] = {  # standard five-field cron, UTC
    "cleanup": "0 2 * * *",
    "analyze": "0 */6 * * *",
}


def eventbridge_expression(cron: str) -> str:
    """'0 2 * * *' -> 'cron(0 2 * * ? *)': EventBridge wants a year field and '?' for one
    of day-of-month and day-of-week, and writes steps as 0/6."""
    minute, hour, day, month, weekday = (field.replace("*/", "0/") for field in cron.split())
    if weekday == "*":
        weekday = "?"
    elif day == "*":
        day = "?"
    return f"cron({minute} {hour} {day} {month} {weekday} *)"
