"""Redaction rules: what each built-in rule scrubs, and what it leaves alone."""

from __future__ import annotations

import pytest

from logsvc.entries import LogEntry
from logsvc.redaction import DEFAULT_RULES, Redactor, luhn_valid
from logsvc.settings import Settings, SettingsError

CARDS_TOO = ("bearer", "card", "secret_fields")
ENV = {"DATABASE_URL": "sqlite:///logs.db", "ARCHIVE_URL": "s3://archive"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.J9x_y-z", "Authorization: Bearer [REDACTED]"),
        ("bearer   abc123==", "bearer   [REDACTED]"),
        ("paid with 4111-1111-1111-1111", "paid with [REDACTED:card]"),
        ("paid with 4111111111111111.", "paid with [REDACTED:card]."),
        ("order 4111111111111112", "order 4111111111111112"),  # fails Luhn: not a card
        ("trace 1234567890123", "trace 1234567890123"),
        ("user jane@example.com", "user jane@example.com"),  # e-mail is opt-in
        ("nothing to see", "nothing to see"),
    ],
)
def test_rules_on_text(text: str, expected: str):
    assert Redactor(CARDS_TOO).text(text) == expected


def test_email_rule_when_enabled():
    redactor = Redactor(["email"])
    assert redactor.text("from a.b+c@mail.example.co.uk,") == "from [REDACTED:email],"


def test_custom_patterns():
    redactor = Redactor([], [r"ssn=\d{3}-\d{2}-\d{4}"])
    assert redactor.text("ssn=123-45-6789 ok") == "[REDACTED] ok"


def test_metadata_strings_and_secret_fields():
    redactor = Redactor(CARDS_TOO)
    metadata = {
        "headers": {"Authorization": "Bearer abcdef123", "x-api-key": "k", "accept": "*/*"},
        "password": "hunter2",
        "access_token": 12345,
        "prompt_tokens": 17,
        "token": {"kind": "refresh"},  # an object under a secret key goes wholesale
        "cards": ["4111 1111 1111 1111", 4],
    }
    assert redactor.value(metadata) == {
        "headers": {"Authorization": "[REDACTED]", "x-api-key": "[REDACTED]", "accept": "*/*"},
        "password": "[REDACTED]",
        "access_token": "[REDACTED]",
        "prompt_tokens": 17,
        "token": "[REDACTED]",
        "cards": ["[REDACTED:card]", 4],
    }


def test_no_rules_changes_nothing():
    redactor = Redactor([])
    assert not redactor.active
    assert redactor.value({"password": "x"}) == {"password": "x"}


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_settings_parse_rules_and_patterns():
    assert Settings.from_env(ENV).redact == DEFAULT_RULES
    assert Settings.from_env({**ENV, "REDACT": "none"}).redact == ()
    assert Settings.from_env({**ENV, "REDACT": "email, card"}).redact == ("email", "card")
    patterns = Settings.from_env({**ENV, "REDACT_PATTERNS": '["a+b"]'}).redact_patterns
    assert patterns == ("a+b",)
    with pytest.raises(SettingsError, match="REDACT: unknown"):
        Settings.from_env({**ENV, "REDACT": "cards"})
    with pytest.raises(SettingsError, match="REDACT_PATTERNS"):
        Settings.from_env({**ENV, "REDACT_PATTERNS": '["("]'})
    with pytest.raises(SettingsError, match="REDACT_PATTERNS"):
        Settings.from_env({**ENV, "REDACT_PATTERNS": '"a"'})


def entry(message: str, metadata: dict | None = None) -> LogEntry:
    return LogEntry("", "svc", "INFO", message, 1, metadata or {})


def test_a_whole_request_is_redacted_entry_by_entry():
    entries = [
        entry("İstanbul İzmir: ok"),  # lower() makes this longer: positions must still map
        entry("charged 4111 1111 1111 1111", {"note": "Bearer abcdefgh"}),
        entry("at 1790000000000 ms", {"password": "x", "n": 1790000000000}),
        entry("nothing here", {"prompt_tokens": 3}),
        entry("BEARER zzzzzzzz"),
    ]
    Redactor(CARDS_TOO).redact_entries(entries)
    assert [(e.message, e.metadata) for e in entries] == [
        ("İstanbul İzmir: ok", {}),
        ("charged [REDACTED:card]", {"note": "Bearer [REDACTED]"}),
        ("at 1790000000000 ms", {"password": "[REDACTED]", "n": 1790000000000}),
        ("nothing here", {"prompt_tokens": 3}),
        ("BEARER [REDACTED]", {}),
    ]


def test_defaults_leave_card_numbers_and_emails():
    entries = [entry("4111 1111 1111 1111 jane@example.com")]
    Redactor(DEFAULT_RULES).redact_entries(entries)
    assert entries[0].message == "4111 1111 1111 1111 jane@example.com"


@pytest.mark.parametrize(
    "metadata",
    [
        {"password": ["PW"]},
        {"token": {"value": "T"}},
        {"accessToken": "T"},
        {"clientSecret": "T"},
        {"secret_key": "T"},
        {"aws_secret_access_key": "T"},
        {"passphrase": "T"},
        {"pwd": "T"},
        {"db.password": ["T", "U"]},
        {"X-Api-Key": "T"},
        {"refresh-token": 12345},
        {"nested": [{"Authorization": "T"}]},
    ],
)
def test_whatever_sits_under_a_secret_key_goes(metadata):
    redacted = Redactor(DEFAULT_RULES).value(metadata)
    if "nested" in metadata:
        assert redacted == {"nested": [{"Authorization": "[REDACTED]"}]}
    else:
        assert list(redacted.values()) == ["[REDACTED]"]


@pytest.mark.parametrize(
    "key", ["prompt_tokens", "token_count", "passenger", "keyboard", "author", "max_tokens"]
)
def test_keys_that_only_look_like_secrets_stay(key):
    assert Redactor(DEFAULT_RULES).value({key: 7}) == {key: 7}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("note: Bearer\tXYZ123", "XYZ123"),
        ("note: Bearer\nXYZ123", "XYZ123"),
        ("header Bearer:XYZ123", "XYZ123"),
        ("url?auth=Bearer%20XYZ123", "XYZ123"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        ("login failed password=hunter2 for bob", "hunter2"),
        ('config {"api_key": "abc123"}', "abc123"),
        ("retry with token: tkn_9f8e7d", "tkn_9f8e7d"),
        # AWS's documented example key id, assembled so no scanner takes it for a real one.
        (f"key {'AKIA' + 'IOSFODNN7EXAMPLE'} in use", "AKIA" + "IOSFODNN7EXAMPLE"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N",
            "dozjgNryP4J3jVmNHl0w5N",
        ),
        (
            "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow\n-----END RSA " + "PRIVATE KEY-----",
            "MIIEow",
        ),
    ],
)
def test_secrets_in_text_go_whatever_the_separator(text, secret):
    redacted = Redactor(DEFAULT_RULES).text(text)
    assert secret not in redacted, redacted
    assert "[REDACTED]" in redacted


@pytest.mark.parametrize(
    "text",
    ["basic auth failed", "prompt_tokens=17", "the key=value store", "passenger=3"],
)
def test_ordinary_text_stays(text):
    assert Redactor(DEFAULT_RULES).text(text) == text
