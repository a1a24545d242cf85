import pytest

from logsvc.store.configs import RetentionDefaults, ServiceConfig


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
    assert config.effective_ttl_days(RetentionDefaults(ttl_days=14)) == expected


def test_archive_ttl_is_explicit_else_the_default():
    defaults = RetentionDefaults(archive_ttl_days=400)
    assert ServiceConfig("s").effective_archive_ttl_days(defaults) == 400
    assert ServiceConfig("s", archive_ttl_days=9).effective_archive_ttl_days(defaults) == 9
