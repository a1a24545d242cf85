"""Bearer API-key authentication with a constant-time comparison."""

from __future__ import annotations

import hmac

from logsvc.errors import ServiceUnavailable, Unauthorized


def check_bearer(authorization: str | None, api_key: str | None) -> None:
    """Raise unless the Authorization header carries the configured API key."""
    if not api_key:
        raise ServiceUnavailable("the service has no API key configured (LOG_SERVICE_API_KEY)")
    if not authorization:
        raise Unauthorized(
            "missing Authorization header (expected: Bearer <API key>)",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode("utf-8"), api_key.encode("utf-8")
    ):
        raise Unauthorized(
            "invalid API key", field="Authorization", headers={"WWW-Authenticate": "Bearer"}
        )
