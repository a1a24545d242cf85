"""The ObjectStore interface and the URL-style backend selection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol
from urllib.parse import urlsplit


class ObjectStore(Protocol):
    """Put, get, list and delete whole objects by key."""

    def put(self, key: str, data: bytes, content_type: str, content_encoding: str | None) -> None:
        """Store an object, replacing any object with the same key."""

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys under a prefix, in lexical order."""

    def list_prefixes(self, prefix: str) -> list[str]:
        """The names one level below a prefix ending in /, like folders ("a/" -> ["b", "c"])."""

    def delete(self, keys: list[str]) -> None:
        """Delete objects; missing keys are ignored."""


def open_object_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    credentials: dict[str, str] | None = None,
    expected_owner: str | None = None,
) -> ObjectStore:
    """``file:///path/archive`` (a local folder) or ``s3://bucket[/prefix]`` (S3 or R2)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        from logsvc.archive.local import LocalObjectStore

        return LocalObjectStore(parts.netloc + parts.path)
    if parts.scheme == "s3":
        from logsvc.archive.s3 import S3ObjectStore

        if not parts.netloc:
            raise ValueError("ARCHIVE_URL s3:// needs a bucket, e.g. s3://platform-logs-archive")
        return S3ObjectStore(
            parts.netloc,
            parts.path.strip("/"),
            endpoint_url=endpoint_url,
            region=region,
            credentials=credentials,
            expected_owner=expected_owner,
        )
    raise ValueError(f"ARCHIVE_URL scheme must be file or s3, got {parts.scheme!r}")
