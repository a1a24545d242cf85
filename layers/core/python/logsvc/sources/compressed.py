"""Bodies the client compressed, opened within a bound: a few KB of gzip can expand to
gigabytes, so no source decompresses more than MAX_DECOMPRESSED_BYTES."""

from __future__ import annotations

import zlib

from logsvc.errors import BadRequest, PayloadTooLarge

MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024


def gunzip(data: bytes) -> bytes:
    """A gzip body, opened; 400 when it is not gzip, 413 when it opens too large."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, MAX_DECOMPRESSED_BYTES)
    except zlib.error as exc:
        raise BadRequest(f"body: not valid gzip ({exc})", field="body") from None
    if decompressor.unconsumed_tail:
        raise PayloadTooLarge(f"body: more than {MAX_DECOMPRESSED_BYTES} bytes uncompressed")
    return out
