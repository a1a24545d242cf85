"""Protobuf's wire format, walked without building messages: enough to count a repeated
field before the generated classes build every element (a body of a few KB can hold a
million empty ones). Only counting uses it; decoding is the protobuf library's."""

from __future__ import annotations

from collections.abc import Iterator


def fields(data: bytes, wanted: int) -> Iterator[bytes]:
    """The length-delimited values of one field number, in order."""
    position, end = 0, len(data)
    while position < end:
        key, position = varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, position = varint(data, position)
        elif wire_type == 1:
            position += 8
        elif wire_type == 5:
            position += 4
        elif wire_type == 2:
            length, position = varint(data, position)
            if number == wanted:
                yield data[position : position + length]
            position += length
        else:
            return  # groups or garbage: the parser decides
        if position > end:
            return


def varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
    return result, len(data) + 1  # truncated: stop the walk
