"""The evaluation set of the ask route: questions in a couple of phrasings per shape, each
with the LogQL and the range that say what it means, written by hand (not by the
translator). tests/integration/test_ask.py runs the answer's query and the expected one
through the Loki API over a corpus (``corpus``) and compares what they return.

Times are relative to NOW: the latest 16:30 UTC, so "since 9am", "yesterday" and
"between 2 and 3 pm" are fixed points of the corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
SERVICES = ("checkout", "payment-service", "api-gateway", "user-auth", "inventory")


def now_ms() -> int:
    real = datetime.now(UTC)
    at = real.replace(hour=16, minute=30, second=0, microsecond=0)
    return int((at if at <= real else at - timedelta(days=1)).timestamp() * 1000)


NOW = now_ms()
TODAY = NOW - 16 * HOUR - 30 * MINUTE  # 00:00 UTC
YESTERDAY = TODAY - DAY
WEEKDAY_YESTERDAY = f"{datetime.fromtimestamp(YESTERDAY / 1000, UTC):%A}".lower()
MONDAY = TODAY - datetime.fromtimestamp(TODAY / 1000, UTC).weekday() * DAY  # this week's


@dataclass(frozen=True)
class Case:
    question: str
    logql: str  # what it means
    start: int
    end: int
    kind: str = "logs"
    step: str | None = None
    time_zone: str | None = None
    service: str | None = None  # the request's "service"
    key_services: tuple[str, ...] | None = None  # asked with a key limited to these
    shape: str = ""  # for the report: levels, services, times, text, fields, counts...
    tags: tuple[str, ...] = field(default=())


def last(span: int) -> tuple[int, int]:
    return NOW - span, NOW


def metric(span: tuple[int, int], step_ms: int) -> tuple[int, int]:
    """A metric's range as the answer gives it: the first point one step in."""
    return span[0] + step_ms, span[1]


CHECKOUT_ERRORS = '{service_name="checkout", level=~"error|critical"}'
ALL = '{service_name=~".+"}'

CASES: list[Case] = [
    # levels
    Case("errors in checkout in the last hour", CHECKOUT_ERRORS, *last(HOUR), shape="levels"),
    Case("show me checkout's error logs from the past hour", CHECKOUT_ERRORS, *last(HOUR),
         shape="levels"),
    Case("warnings in payment-service in the last 30 minutes",
         '{service_name="payment-service", level="warn"}', *last(30 * MINUTE), shape="levels"),
    Case("payment warnings over the past 30 minutes",
         '{service_name="payment-service", level="warn"}', *last(30 * MINUTE), shape="levels"),
    Case("critical entries in api gateway in the last 6 hours",
         '{service_name="api-gateway", level="critical"}', *last(6 * HOUR), shape="levels"),
    Case("fatal logs from the api-gateway service in the past 6 hours",
         '{service_name="api-gateway", level="critical"}', *last(6 * HOUR), shape="levels"),
    Case("errors and warnings in inventory in the last 2 hours",
         '{service_name="inventory", level=~"warn|error|critical"}', *last(2 * HOUR),
         shape="levels"),
    Case("debug logs for user-auth in the last 3 hours",
         '{service_name="user-auth", level="debug"}', *last(3 * HOUR), shape="levels"),
    # services, loosely named
    Case("errors in check out in the last hour", CHECKOUT_ERRORS, *last(HOUR), shape="services"),
    Case("checkout-svc errors in the last hour", CHECKOUT_ERRORS, *last(HOUR), shape="services"),
    Case("errors from the checkout service in the last hour", CHECKOUT_ERRORS, *last(HOUR),
         shape="services"),
    Case("paymnt-service errors in the last 3 hours",
         '{service_name="payment-service", level=~"error|critical"}', *last(3 * HOUR),
         shape="services"),
    Case("user auth logs in the last 10 minutes", '{service_name="user-auth"}',
         *last(10 * MINUTE), shape="services"),
    Case("inventory and checkout errors in the last hour",
         '{service_name=~"checkout|inventory", level=~"error|critical"}', *last(HOUR),
         shape="services"),
    # times
    Case("checkout errors in the last 15 minutes", CHECKOUT_ERRORS, *last(15 * MINUTE),
         shape="times"),
    Case("checkout errors in the past 2 hours", CHECKOUT_ERRORS, *last(2 * HOUR), shape="times"),
    Case("checkout errors since 9am", CHECKOUT_ERRORS, TODAY + 9 * HOUR, NOW, shape="times"),
    Case("checkout errors since 09:00", CHECKOUT_ERRORS, TODAY + 9 * HOUR, NOW, shape="times"),
    Case("checkout errors yesterday", CHECKOUT_ERRORS, YESTERDAY, TODAY, shape="times"),
    Case(
        f"errors in checkout on {datetime.fromtimestamp(YESTERDAY / 1000, UTC):%Y-%m-%d}",
        CHECKOUT_ERRORS, YESTERDAY, TODAY, shape="times",
    ),
    Case("checkout errors between 2 and 3 pm UTC", CHECKOUT_ERRORS, TODAY + 14 * HOUR,
         TODAY + 15 * HOUR, shape="times"),
    Case("checkout errors from 14:00 to 15:00 utc", CHECKOUT_ERRORS, TODAY + 14 * HOUR,
         TODAY + 15 * HOUR, shape="times"),
    Case("checkout errors today", CHECKOUT_ERRORS, TODAY, NOW, shape="times"),
    Case("checkout errors in the last day", CHECKOUT_ERRORS, *last(DAY), shape="times"),
    # December: Paris is UTC+1
    Case("checkout errors since 9am", CHECKOUT_ERRORS, TODAY + 8 * HOUR, NOW,
         time_zone="Europe/Paris", shape="times"),
    Case("checkout errors since 3 hours ago", CHECKOUT_ERRORS, *last(3 * HOUR), shape="times"),
    Case("checkout logs in the last 45 minutes", '{service_name="checkout"}', *last(45 * MINUTE),
         shape="times"),
    Case(f"checkout errors on {WEEKDAY_YESTERDAY}", CHECKOUT_ERRORS, YESTERDAY, TODAY,
         shape="times"),
    Case("checkout errors since last monday", CHECKOUT_ERRORS, MONDAY, NOW, shape="times"),
    # text
    Case("checkout errors about timeouts in the last hour",
         CHECKOUT_ERRORS + ' |~ "(?i)timeout"', *last(HOUR), shape="text"),
    Case("checkout errors mentioning timeout in the last hour",
         CHECKOUT_ERRORS + ' |~ "(?i)timeout"', *last(HOUR), shape="text"),
    Case('"Connection refused" in payment-service in the last 6 hours',
         '{service_name="payment-service"} |= "Connection refused"', *last(6 * HOUR),
         shape="text"),
    Case("payment-service logs containing connection refused in the last 6 hours",
         '{service_name="payment-service"} |~ "(?i)connection refused"', *last(6 * HOUR),
         shape="text"),
    Case("checkout entries with NullPointerException in the last day",
         '{service_name="checkout"} |~ "(?i)nullpointerexception"', *last(DAY), shape="text"),
    Case("cache misses in inventory in the last 2 hours",
         '{service_name="inventory"} |~ "(?i)cache miss"', *last(2 * HOUR), shape="text"),
    Case("'Cache miss' in inventory in the last 2 hours",
         '{service_name="inventory"} |= "Cache miss"', *last(2 * HOUR), shape="text"),
    Case("timeouts in all services in the last hour", ALL + ' |~ "(?i)timeout"', *last(HOUR),
         shape="text"),
    Case("user-auth logs saying login failed in the last day",
         '{service_name="user-auth"} |~ "(?i)login failed"', *last(DAY), shape="text"),
    # metadata fields
    Case("checkout errors with status 500 in the last day",
         CHECKOUT_ERRORS + " | http_status = 500", *last(DAY), shape="fields"),
    Case("checkout errors with http status 500 in the last day",
         CHECKOUT_ERRORS + " | http_status = 500", *last(DAY), shape="fields"),
    Case("api-gateway logs with status 5xx in the last 6 hours",
         '{service_name="api-gateway"} | http_status >= 500 | http_status < 600',
         *last(6 * HOUR), shape="fields"),
    Case("api-gateway entries where http status is at least 500 in the last 6 hours",
         '{service_name="api-gateway"} | http_status >= 500', *last(6 * HOUR), shape="fields"),
    Case("checkout logs in region eu-west-1 in the last 2 hours",
         '{service_name="checkout"} | region = "eu-west-1"', *last(2 * HOUR), shape="fields"),
    Case("checkout logs where region is us-east-1 in the last 2 hours",
         '{service_name="checkout"} | region = "us-east-1"', *last(2 * HOUR), shape="fields"),
    Case("logs for user 42 in the last day", ALL + ' | user_id = "42"', *last(DAY),
         shape="fields"),
    Case("user_id=42 in checkout in the last day", '{service_name="checkout"} | user_id = "42"',
         *last(DAY), shape="fields"),
    Case("api-gateway entries with latency over 2000 in the last 6 hours",
         '{service_name="api-gateway"} | latency_ms > 2000', *last(6 * HOUR), shape="fields"),
    Case("api-gateway logs with latency_ms below 100 in the last hour",
         '{service_name="api-gateway"} | latency_ms < 100', *last(HOUR), shape="fields"),
    Case("checkout warnings with status not 200 in the last day",
         '{service_name="checkout", level="warn"} | http_status != 200', *last(DAY),
         shape="fields"),
    # counts and rates
    Case("how many errors in checkout in the last hour",
         f"sum(count_over_time({CHECKOUT_ERRORS}[1m]))", *metric(last(HOUR), MINUTE),
         kind="metric", step="1m", shape="counts"),
    Case("count checkout errors in the last hour",
         f"sum(count_over_time({CHECKOUT_ERRORS}[1m]))", *metric(last(HOUR), MINUTE),
         kind="metric", step="1m", shape="counts"),
    Case("how many errors per minute by level in the last hour",
         'sum by (level) (count_over_time({level=~"error|critical"}[1m]))',
         *metric(last(HOUR), MINUTE), kind="metric", step="1m", shape="counts"),
    Case("checkout errors per hour in the last day",
         f"sum(count_over_time({CHECKOUT_ERRORS}[1h]))", *metric(last(DAY), HOUR),
         kind="metric", step="1h", shape="counts"),
    Case("number of warnings by service in the last 6 hours",
         'sum by (service_name) (count_over_time({level="warn"}[15m]))',
         *metric(last(6 * HOUR), 15 * MINUTE), kind="metric", step="15m", shape="counts"),
    Case("error rate of api-gateway in the last hour",
         'sum(rate({service_name="api-gateway", level=~"error|critical"}[1m]))',
         *metric(last(HOUR), MINUTE), kind="metric", step="1m", shape="rates"),
    Case("errors per second in checkout over the last hour",
         f"sum(rate({CHECKOUT_ERRORS}[1m]))", *metric(last(HOUR), MINUTE), kind="metric",
         step="1m", shape="rates"),
    Case("how many logs by level in inventory today",
         'sum by (level) (count_over_time({service_name="inventory"}[1h]))',
         *metric((TODAY, NOW), HOUR), kind="metric", step="1h", shape="counts"),
    Case("count of critical entries per service in the last 6 hours",
         'sum by (service_name) (count_over_time({level="critical"}[15m]))',
         *metric(last(6 * HOUR), 15 * MINUTE), kind="metric", step="15m", shape="counts"),
    # top patterns
    Case("most common errors in checkout in the last day", CHECKOUT_ERRORS, *last(DAY),
         kind="patterns", shape="patterns"),
    Case("top errors in payment-service yesterday",
         '{service_name="payment-service", level=~"error|critical"}', YESTERDAY, TODAY,
         kind="patterns", shape="patterns"),
    Case("error patterns in checkout", CHECKOUT_ERRORS, *last(DAY), kind="patterns",
         shape="patterns"),
    Case("most frequent warnings in inventory in the last 6 hours",
         '{service_name="inventory", level="warn"}', *last(6 * HOUR), kind="patterns",
         shape="patterns"),
    Case("common errors in api-gateway today",
         '{service_name="api-gateway", level=~"error|critical"}', TODAY, NOW, kind="patterns",
         shape="patterns"),
    Case("what kinds of errors happened in checkout in the last day", CHECKOUT_ERRORS,
         *last(DAY), kind="patterns", shape="patterns"),
    # the caller's services
    Case("errors in the last hour", CHECKOUT_ERRORS, *last(HOUR), key_services=("checkout",),
         shape="scope"),
    Case("how many errors by service in the last hour",
         'sum by (service_name) (count_over_time({service_name=~"checkout|inventory", '
         'level=~"error|critical"}[1m]))', *metric(last(HOUR), MINUTE), kind="metric",
         step="1m", key_services=("checkout", "inventory"), shape="scope"),
    Case("errors in the last hour", '{service_name="inventory", level=~"error|critical"}',
         *last(HOUR), service="inventory", shape="scope"),
    Case("checkout errors yesterday", CHECKOUT_ERRORS, YESTERDAY + 5 * HOUR, TODAY + 5 * HOUR,
         time_zone="America/New_York", shape="scope"),
]  # fmt: skip


MESSAGES = {
    "checkout": [
        ("ERROR", "Payment gateway timeout after {n} ms"),
        ("ERROR", "NullPointerException in CartController.total"),
        ("WARN", "Retrying payment authorisation, attempt {k}"),
        ("INFO", "Order {u} placed"),
        ("CRITICAL", "Timeout reading order {u} from the database"),
        ("DEBUG", "Cart {u} recalculated"),
    ],
    "payment-service": [
        ("ERROR", "Connection refused by db-{k}:5432"),
        ("WARN", "connection refused by fraud-check, falling back"),
        ("INFO", "Charge {u} captured"),
        ("ERROR", "Card declined for order {u}"),
    ],
    "api-gateway": [
        ("INFO", "GET /api/orders/{u} answered in {n} ms"),
        ("ERROR", "Upstream timeout for POST /api/checkout"),
        ("CRITICAL", "Certificate for api.example.com expires in {k} days"),
        ("WARN", "Slow upstream: {n} ms"),
    ],
    "user-auth": [
        ("INFO", "User {u} logged in"),
        ("WARN", "Login failed for user {u}: bad password"),
        ("DEBUG", "Token refreshed for user {u}"),
        ("ERROR", "LDAP timeout after {n} ms"),
    ],
    "inventory": [
        ("INFO", "Cache miss for sku-{u}"),
        ("WARN", "Stock low for sku-{u}"),
        ("ERROR", "Reservation {u} failed: timeout"),
        ("DEBUG", "cache miss for warehouse {k}"),
    ],
}


def corpus(seed: int = 31) -> list[dict]:
    """About 1,500 entries over the last two days and a half, every service and level, with
    HTTP statuses, regions, users and latencies as metadata."""
    rng = random.Random(seed)
    entries = []
    for i in range(1500):
        service = SERVICES[i % len(SERVICES)]
        level, template = rng.choice(MESSAGES[service])
        # denser in the last hours, so short ranges hold entries too
        ago = int(rng.random() ** 2 * 2.5 * DAY) + rng.randrange(1000)
        entries.append(
            {
                "service_name": service,
                "level": level,
                "message": template.format(
                    n=rng.choice([35, 80, 450, 2500, 9000]),
                    k=rng.randrange(1, 5),
                    u=rng.choice([7, 42, 99, 1234]),
                ),
                "timestamp": NOW - ago,
                "metadata": {
                    "http": {"status": rng.choice([200, 200, 201, 404, 500, 503])},
                    "region": rng.choice(["eu-west-1", "us-east-1"]),
                    "user_id": rng.choice([7, 42, 99, 1234]),
                    "latency_ms": rng.choice([35, 80, 450, 2500, 9000]),
                },
            }
        )
    return entries


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@dataclass(frozen=True)
class ModelCase:
    """A question beyond the rules, the answer a model gave (recorded, replayed in the
    provider's response shape) and what the question means."""

    question: str
    provider: str  # bedrock, openai, workers-ai
    answer: str  # the model's text, as it wrote it (prose and fences included)
    logql: str
    start: int
    end: int
    kind: str = "logs"
    step: str | None = None


def _model_text(logql: str, start: int, end: int, kind: str, step: str | None, said: str) -> str:
    import json

    document = {"logql": logql, "start": iso(start), "end": iso(end), "kind": kind,
                "step": step, "explanation": said}  # fmt: skip
    return json.dumps(document)


MODEL_CASES: list[ModelCase] = [
    ModelCase(
        "which service logged the most errors in the last hour",
        "bedrock",
        _model_text(
            'topk(1, sum by (service_name) (count_over_time({service_name=~".+", '
            'level=~"error|critical"} [1h])))',
            NOW - HOUR,
            NOW,
            "metric",
            "1h",
            "The service with the most error and critical entries in the last hour.",
        ),
        'topk(1, sum by (service_name) (count_over_time({level=~"error|critical"}[1h])))',
        NOW - HOUR,
        NOW,
        "metric",
        "1h",
    ),
    ModelCase(
        "compare checkout errors to warnings over the last 6 hours",
        "openai",
        "```json\n"
        + _model_text(
            'sum by (level) (count_over_time({service_name="checkout", level=~"warn|error|'
            'critical"} [15m]))',
            NOW - 6 * HOUR,
            NOW,
            "metric",
            "15m",
            "Checkout's warnings, errors and critical entries per 15 minutes, by level.",
        )
        + "\n```",
        'sum by (level) (count_over_time({service_name="checkout", level=~"warn|error|critical"}'
        "[15m]))",
        NOW - 6 * HOUR,
        NOW,
        "metric",
        "15m",
    ),
    ModelCase(
        "why is checkout slow",
        "workers-ai",
        "Here is a query that shows slow requests: "
        + _model_text(
            '{service_name="checkout"} | latency_ms > 1000',
            NOW - HOUR,
            NOW,
            "logs",
            None,
            "Checkout's entries that took more than a second, in the last hour.",
        ),
        '{service_name="checkout"} | latency_ms >= 1001',
        NOW - HOUR,
        NOW,
    ),
    ModelCase(
        "summarize what went wrong with payments this morning",
        "bedrock",
        _model_text(
            '{service_name="payment-service", level=~"error|critical"}',
            TODAY,
            TODAY + 12 * HOUR,
            "patterns",
            None,
            "The common patterns of payment-service's errors this morning.",
        ),
        '{service_name="payment-service", level=~"error|critical"}',
        TODAY,
        TODAY + 12 * HOUR,
        "patterns",
    ),
    ModelCase(
        "compare user-auth warnings today versus the same hours yesterday",
        "openai",
        _model_text(
            'sum(count_over_time({service_name="user-auth", level="warn"} [1h]))',
            TODAY,
            NOW,
            "metric",
            "1h",
            "User-auth's warnings per hour today.",
        ),
        'sum(count_over_time({service_name="user-auth", level="warn"}[1h]))',
        TODAY,
        NOW,
        "metric",
        "1h",
    ),
    ModelCase(
        "explain the api gateway timeouts in the last 6 hours",
        "workers-ai",
        _model_text(
            '{service_name="api-gateway"} |~ "(?i)timeout"',
            NOW - 6 * HOUR,
            NOW,
            "logs",
            None,
            "API gateway entries about timeouts in the last 6 hours.",
        ),
        '{service_name="api-gateway"} |~ "(?i)timeout"',
        NOW - 6 * HOUR,
        NOW,
    ),
]
