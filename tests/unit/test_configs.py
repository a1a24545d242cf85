import pytest

from logsvc.store.configs import ServiceConfig


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (ServiceConfig("s"), 14),
        (ServiceConfig("s", retention_policy="minimal"), 7),
        (ServiceConfig("s", retention_policy="standard"), 30),
        (ServiceConfig("s", retention_policy="extended"), 90),
        (ServiceConfig("s", ttl_days=5, retention_policy="extended"), 5),
    ],
)
def test_ttl_is_explicit_else_policy_else_default(config, expected):
    assert config.effective_ttl_days(default_ttl_days=14) == expected
