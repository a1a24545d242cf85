"""Pattern mining, severity and recommendations on crafted inputs."""

import random

import pytest

from logsvc.analysis.patterns import mine_patterns
from logsvc.analysis.recommendations import classify, recommend
from logsvc.analysis.severity import assess


def corpus(seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    templates = [
        (
            50,
            lambda: (
                f"Timeout after {rng.randint(1, 9999)}ms calling inventory at "
                f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}:8080"
            ),
        ),
        (
            30,
            lambda: (
                f"payment {rng.getrandbits(128):032x} declined for order {rng.randint(1, 10**6)}"
            ),
        ),
        (15, lambda: f"GET https://api.example.com/v1/users/{rng.randint(1, 999)} returned 503"),
        (
            5,
            lambda: (
                "Unhandled exception: KeyError('currency') in "
                f"/srv/app/handlers/checkout_{rng.randint(1, 3)}.py"
            ),
        ),
    ]
    entries = []
    for count, make in templates:
        entries += [
            {
                "message": make(),
                "timestamp": 1000 + rng.randint(0, 10**6),
                "level": "CRITICAL" if count == 5 else "ERROR",
            }
            for _ in range(count)
        ]
    rng.shuffle(entries)
    return entries


def test_known_templates_come_back_with_their_counts():
    patterns = mine_patterns(corpus())
    assert [(p.template, p.count) for p in patterns] == [
        ("Timeout after <NUM> calling inventory at <IP>", 50),
        ("payment <HEX> declined for order <NUM>", 30),
        ("GET <URL> returned <NUM>", 15),
        ("Unhandled exception: KeyError('currency') in <PATH>", 5),
    ]
    top = patterns[0]
    assert top.share == 0.5
    assert top.first_seen <= top.last_seen
    assert top.example.startswith("Timeout after ")
    assert patterns[3].critical == 5


def test_uuids_ids_and_paths_are_masked():
    entries = [
        {
            "message": f"user {u} not found in /var/data/users.db (req-{i:08d})",
            "timestamp": i,
            "level": "ERROR",
        }
        for i, u in enumerate(
            ["0a1b2c3d-1111-4222-8333-444455556666", "ffffffff-1111-4222-8333-444455556666"]
        )
    ]
    (pattern,) = mine_patterns(entries)
    assert pattern.template == "user <UUID> not found in <PATH> (<ID>)"


@pytest.mark.parametrize(
    ("errors", "critical", "earlier", "severity", "anomaly"),
    [
        (12, 0, [], "LOW", False),
        (150, 0, [], "MEDIUM", False),
        (20, 3, [], "HIGH", False),  # 15% critical
        (40, 12, [], "CRITICAL", False),  # 30% critical
        (60, 0, [1.0, 1.5, 2.0], "HIGH", True),  # 10/h against 1.5/h
        (600, 0, [2.0, 2.0], "CRITICAL", True),  # 100/h against 2/h
        (15, 0, [1.0], "MEDIUM", False),  # 2.5x, but too few errors for an anomaly
        (60, 0, [9.0, 11.0], "LOW", False),  # steady
    ],
)
def test_severity_and_anomaly(errors, critical, earlier, severity, anomaly):
    result = assess(errors, critical, window_hours=6, earlier_rates=earlier)
    assert (result.severity, result.anomaly) == (severity, anomaly)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("upstream request timed out after 30s", "timeout"),
        ("connect ECONNREFUSED 10.0.0.5:5432", "connection"),
        ("getaddrinfo ENOTFOUND db.internal", "connection"),
        ("401 Unauthorized: token expired", "auth"),
        ("429 Too Many Requests from Stripe", "rate_limit"),
        ("worker exceededMemory (128 MB)", "memory"),
        ("UNIQUE constraint failed: users.email", "database"),
        ("Uncaught TypeError: x is undefined", "unhandled"),
        ("upstream returned 502 Bad Gateway", "upstream_5xx"),
    ],
)
def test_error_classes(message, expected):
    assert expected in classify(message)


def test_recommendations_follow_the_most_frequent_classes():
    advice = recommend(mine_patterns(corpus()))
    assert advice[0].startswith("Timeouts")
    assert any(a.startswith("Upstream 5xx") for a in advice)
    assert any(a.startswith("Unhandled exceptions") for a in advice)
    unknown = recommend(
        mine_patterns([{"message": "flux capacitor misaligned", "timestamp": 1, "level": "ERROR"}])
    )
    assert unknown == [
        'Review the most frequent error (100% of errors): "flux capacitor misaligned".'
    ]
