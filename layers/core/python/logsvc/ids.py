"""Identifiers: time-ordered UUIDv7, so new rows land at the end of the primary-key index."""

from uuid6 import uuid7


def new_id() -> str:
    return str(uuid7())


def new_block_id() -> str:
    """A UUIDv7 whose last four hex digits are free for an entry's position in the block."""
    return str(uuid7())[:32] + "0000"
