"""Local-folder object store: the embedded default. Keys map to relative file paths."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from logsvc.errors import ArchiveUnavailable


class LocalObjectStore:
    def __init__(self, root: str):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"archive key escapes the archive folder: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str, content_encoding: str | None) -> None:
        path = self._path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader never sees half an object.
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:  # a half-written temporary file is never left behind
                Path(tmp).unlink(missing_ok=True)
            raise ArchiveUnavailable(f"cannot write archive object {key}: {exc}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot read archive object {key}: {exc}") from exc

    def list_keys(self, prefix: str) -> Iterator[str]:
        if self.root.exists() and not self.root.is_dir():  # as an S3 API's missing bucket
            raise ArchiveUnavailable(f"the archive folder {self.root} is not a folder")
        folder = self._path(prefix.rpartition("/")[0]) if "/" in prefix else self.root
        root = str(self.root.resolve())
        keys = []
        # A folder can vanish while it is walked (a concurrent delete removes empty ones).
        for parent, _, names in os.walk(folder.resolve()):
            relative = parent[len(root) + 1 :].replace(os.sep, "/")
            for name in names:
                key = f"{relative}/{name}" if relative else name
                if not name.startswith(".tmp-") and key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def list_prefixes(self, prefix: str) -> list[str]:
        folder = self._path(prefix) if prefix else self.root
        try:
            return sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
        except FileNotFoundError:
            return []

    def delete(self, keys: list[str]) -> None:
        """Delete the files, and folders left empty (an S3 API has no folders to leave)."""
        root = self.root.resolve()
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == root or not folder.is_relative_to(root):
                    break
                try:
                    folder.rmdir()
                except OSError:  # not empty (or already gone)
                    break
