"""The full-log archive: an object store (local folder or S3 API) and the log format on it."""

from logsvc.archive.log_archive import LogArchive
from logsvc.archive.objects import ObjectStore, open_object_store

__all__ = ["LogArchive", "ObjectStore", "open_object_store"]
