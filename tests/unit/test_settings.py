import pytest

from logsvc.settings import Settings, SettingsError

BASE = {"DATABASE_URL": "sqlite:///x.db", "ARCHIVE_URL": "file:archive"}


def test_defaults_match_the_original():
    settings = Settings.from_env(BASE)
    assert (settings.default_ttl_days, settings.cleanup_batch_size) == (30, 1000)
    assert settings.api_key is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEFAULT_TTL_DAYS", "abc"), ("DEFAULT_TTL_DAYS", "0"), ("CLEANUP_BATCH_SIZE", "-5")],
)
def test_malformed_numbers_name_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value})


def test_required_urls():
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env({"ARCHIVE_URL": "file:archive"})
