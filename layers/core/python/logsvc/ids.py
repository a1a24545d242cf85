"""Identifiers: time-ordered UUIDv7, so new rows land at the end of the primary-key index;
or, for a request with an Idempotency-Key, UUIDv8 derived from it, so a retry produces the
same ids and is stored only once."""

import hashlib

from uuid6 import uuid7


def new_id() -> str:
    return str(uuid7())


def new_block_id() -> str:
    """A UUIDv7 whose last four hex digits are free for an entry's position in the block."""
    return str(uuid7())[:32] + "0000"


def derived_id(*parts: str) -> str:
    """The same UUID (version 8, RFC 9562) for the same parts."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    variant = "89ab"[int(digest[16], 16) % 4]
    return f"{digest[0:8]}-{digest[8:12]}-8{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


def derived_block_id(*parts: str) -> str:
    return derived_id(*parts)[:32] + "0000"
