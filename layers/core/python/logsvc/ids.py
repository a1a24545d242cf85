"""Identifiers: time-ordered UUIDv7, so new rows land at the end of the primary-key index."""

from uuid6 import uuid7


def new_id() -> str:
    return str(uuid7())
