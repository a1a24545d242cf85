"""Settings given as a value (locally) or as the ARN of a Secrets Manager secret (AWS)."""

from __future__ import annotations

from collections.abc import Callable

# A secret is read again after this many seconds, so a rotated value reaches warm functions.
SECRET_MAX_AGE_SECONDS = 300


def secret(arn: str) -> str:
    """A Secrets Manager value, cached by Powertools for SECRET_MAX_AGE_SECONDS."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)


def value_or_secret(value: str | None, arn: str | None) -> str | None:
    """A setting given as a value (locally) or as the ARN of a secret holding it (AWS)."""
    return secret(arn) if arn else value


def later_value_or_secret(value: str | None, arn: str | None) -> Callable[[], str] | str | None:
    """The same, asked on each use: a secret updated in Secrets Manager is used as soon as
    its cache expires, without restarting the function."""
    return (lambda: secret(arn)) if arn else value
