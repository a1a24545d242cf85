import pytest

from logsvc.settings import Settings, SettingsError

BASE = {"DATABASE_URL": "sqlite:///x.db", "ARCHIVE_URL": "file:archive"}


def test_defaults_match_the_original():
    settings = Settings.from_env(BASE)
    # The original kept 30 days in its one tier; the index now keeps a 7-day hot window and
    # the archive (searchable) ARCHIVE_TTL_DAYS.
    assert (settings.default_ttl_days, settings.cleanup_batch_size) == (7, 1000)
    assert settings.archive_ttl_days == 365
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


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("ANALYSIS_LLM", "gpt", "ANALYSIS_LLM"),
        ("D1_REQUESTS_PER_5_MINUTES", "5000", "D1_REQUESTS_PER_5_MINUTES"),
        ("INGEST_BUFFER", "sqs://queue", "INGEST_BUFFER: must be file:///"),
        ("WRITER_FLUSH_MS", "soon", "WRITER_FLUSH_MS: must be an integer"),
        ("WRITER_BATCH_ENTRIES", "0", "WRITER_BATCH_ENTRIES"),
    ],
)
def test_each_malformed_setting_names_its_variable(variable, value, says):
    with pytest.raises(SettingsError, match=says):
        Settings.from_env({**BASE, variable: value})


def test_lists_units_and_blank_values():
    settings = Settings.from_env(
        {
            **BASE,
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "WRITER_FLUSH_MS": "250",
            "INGEST_BUFFER": "off",
            "DEFAULT_TTL_DAYS": "  ",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.writer_flush_seconds == 0.25
    assert settings.ingest_buffer is None
    assert settings.default_ttl_days == 7  # blank is unset
    assert settings.aws_region == "eu-west-1"
