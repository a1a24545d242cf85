"""CORS: which browser origins may call the API (CORS_ORIGINS; none by default).

API Gateway answers preflight requests (the CDK app configures it from the same
constants); the functions add Access-Control-Allow-Origin to their answers. The local
server does both, with these same rules.
"""

from __future__ import annotations

ALLOWED_HEADERS = ("Authorization", "Content-Type", "Content-Encoding", "Idempotency-Key")
ALLOWED_METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
MAX_AGE_SECONDS = 600


def allowed_origin(origin: str | None, origins: tuple[str, ...]) -> str | None:
    """The Access-Control-Allow-Origin value for this origin, or None (not allowed)."""
    if not origin or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def response_headers(origin: str | None, origins: tuple[str, ...]) -> dict[str, str]:
    allowed = allowed_origin(origin, origins)
    if allowed is None:
        return {}
    return {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"}


def preflight_headers(origin: str | None, origins: tuple[str, ...]) -> dict[str, str]:
    """Headers of the answer to an OPTIONS preflight (empty: the origin is not allowed)."""
    headers = response_headers(origin, origins)
    if headers:
        headers |= {
            "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        }
    return headers
