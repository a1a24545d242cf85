"""Identifiers.

An entry's id is given at ingest, before the entry is buffered, and never depends on which
block the writer later packs it into. Its first 48 bits are the entry's own timestamp (Unix
ms, as in UUIDv7), so the index finds an entry from its id alone: only blocks around that
time can hold it (``LogIndex.get``). With an Idempotency-Key the rest derives from the key
(UUIDv8), so a retried request gets the same ids; otherwise it is random (UUIDv7).

Block ids are opaque; blocks written before entry ids existed end in 0000 and number
their entries in those four hex digits (``LogIndex`` still resolves such ids).
"""

import hashlib
import re
import secrets

from uuid6 import uuid7

MAX_ID_TIMESTAMP_MS = (1 << 48) - 1
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id() -> str:
    return str(uuid7())


def _format(timestamp_ms: int, version: int, rest: int) -> str:
    """A UUID string: 48 bits of time, the version, then 74 bits of ``rest``, RFC 9562's
    variant bits set."""
    time_bits = min(max(timestamp_ms, 0), MAX_ID_TIMESTAMP_MS)
    rand_a = (rest >> 62) & 0xFFF
    rand_b = rest & ((1 << 62) - 1)
    value = (time_bits << 80) | (version << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    text = f"{value:032x}"
    return f"{text[0:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:32]}"


def entry_id(timestamp_ms: int) -> str:
    """A UUIDv7 whose time is the entry's timestamp."""
    return _format(timestamp_ms, 7, secrets.randbits(74))


def derived_entry_id(timestamp_ms: int, *parts: str) -> str:
    """The same UUIDv8 for the same timestamp and parts (an Idempotency-Key and a position)."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return _format(timestamp_ms, 8, int.from_bytes(digest[:10], "big"))


def id_timestamp(value: str) -> int:
    """The timestamp an entry id carries (Unix ms)."""
    return int(value.replace("-", "")[:12], 16)


def derived_id(*parts: str) -> str:
    """The same UUID (version 8, RFC 9562) for the same parts."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    variant = "89ab"[int(digest[16], 16) % 4]
    return f"{digest[0:8]}-{digest[8:12]}-8{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"
