"""Full log entries in the archive: gzip NDJSON objects of a write (an ingest request written
directly, or a writer flush of the buffer), compacted daily into Parquet.

Keys are ``logs/{service}/{YYYY-MM-DD}/{batch id}.ndjson.gz``: a service's entries of a
write, when it has SHARED_BELOW or more of them, or is the write's only service. The small
groups of a write that holds several services share one object a day, under
``logs/{SHARED_FOLDER}/{YYYY-MM-DD}/`` (a flush of single-entry traffic from 50 services is
one PUT, not 50: docs/COST.md); compaction splits them into each service's files the next
day, and every search of a day reads that folder too. Every entry in an object is of that
date (a batch spanning days, a backfill, is written as one object per day), so deleting a
whole date prefix after a retention period never removes an entry younger than that
period, and a search of a time range reads only the days in it.

Compaction (logsvc.archive.compaction) rewrites a past day's objects of a service as one
``compacted/{service}/{YYYY-MM-DD}/{digest}.parquet`` and then deletes them; an index
entry's ``r2_key`` still names the object it was written to, and /full then finds the
entry by its id in the compacted file.
"""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from logsvc.archive.objects import ObjectStore
from logsvc.clock import utc_date
from logsvc.entries import LogEntry
from logsvc.ids import derived_id, new_id

CONTENT_TYPE = "application/x-ndjson"
CONTENT_ENCODING = "gzip"
# Level 1 runs twice as fast as level 6 on log NDJSON (0.9 vs 1.85 ms per 1000 logs) for
# ~20% more bytes (6.2x vs 7.5x): R2 storage is the cheapest line of the bill, request time
# is not (docs/COST.md).
GZIP_LEVEL = 1
HEALTH_PROBE_KEY = "logs/.health-probe"  # listed by /health; never written


NDJSON_PREFIX = "logs/"
# The folder of objects several services share: not a service name (they have no dots).
SHARED_FOLDER = "several.services"
SHARED_BELOW = 1000  # a service with fewer entries in a write shares its day's object
COMPACTED_PREFIX = "compacted/"


def object_key(service_name: str, date: str, batch_id: str) -> str:
    return f"{NDJSON_PREFIX}{service_name}/{date}/{batch_id}.ndjson.gz"


def compacted_key(service_name: str, date: str, name: str) -> str:
    return f"{COMPACTED_PREFIX}{service_name}/{date}/{name}.parquet"


def encode_records(records: Iterable[dict[str, Any]]) -> bytes:
    lines = b"".join(orjson.dumps(record) + b"\n" for record in records)
    return gzip.compress(lines, compresslevel=GZIP_LEVEL, mtime=0)


def decode_records(data: bytes) -> Iterator[dict[str, Any]]:
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if line:
            yield orjson.loads(line)


class LogArchive:
    """Writes batches of full entries and reads single entries back."""

    def __init__(self, objects: ObjectStore):
        self.objects = objects

    def archive_batch(
        self, entries: list[LogEntry], batch_key: str | None = None
    ) -> dict[str, str]:
        """Store the entries, an object per day of their timestamps for each service with
        SHARED_BELOW or more of them and one for the rest together; return each service's
        object key of its newest day (an entry of another day is found through the archive
        by its id). With a batch key a retry rewrites the same objects instead of adding
        more."""
        groups: dict[tuple[str, str], list[LogEntry]] = defaultdict(list)
        for entry in entries:
            groups[(entry.service_name, utc_date(entry.timestamp))].append(entry)
        folders: dict[tuple[str, str], list[LogEntry]] = defaultdict(list)
        small = Counter(date for (_, date), group in groups.items() if len(group) < SHARED_BELOW)
        for (service_name, date), group in groups.items():
            folder = (
                SHARED_FOLDER if len(group) < SHARED_BELOW and small[date] > 1 else service_name
            )
            folders[(folder, date)] += group
        keys: dict[str, str] = {}
        for (folder, date), group in sorted(folders.items(), key=lambda item: item[0][1]):
            batch_id = derived_id(batch_key, folder, date) if batch_key else new_id()
            key = object_key(folder, date, batch_id)
            self.objects.put(
                key, encode_records(e.to_record() for e in group), CONTENT_TYPE, CONTENT_ENCODING
            )
            for service_name in {entry.service_name for entry in group}:
                keys[service_name] = key  # days sorted: the newest one stays
        return keys

    def check(self) -> None:
        """Raise ArchiveUnavailable unless the archive answers: a listing of one probe key
        that need not exist (an empty list is an answer). Not a read of it: S3 answers a
        missing key with 403, not 404, to a role that may not list the bucket, and /health
        may list only this one prefix."""
        for _ in self.objects.list_keys(HEALTH_PROBE_KEY):
            break

    def services(self) -> list[str]:
        return sorted(
            (
                set(self.objects.list_prefixes(NDJSON_PREFIX))
                | set(self.objects.list_prefixes(COMPACTED_PREFIX))
            )
            - {SHARED_FOLDER}
        )

    def dates(self, service_name: str, compacted: bool = False) -> list[str]:
        """The service's date folders (YYYY-MM-DD), oldest first."""
        prefix = COMPACTED_PREFIX if compacted else NDJSON_PREFIX
        return self.objects.list_prefixes(f"{prefix}{service_name}/")

    def keys(self, service_name: str, date: str, compacted: bool = False) -> list[str]:
        prefix = COMPACTED_PREFIX if compacted else NDJSON_PREFIX
        return list(self.objects.list_keys(f"{prefix}{service_name}/{date}/"))

    def expired_keys(self, service_name: str, cutoff_date: str) -> list[str]:
        """Objects in the service's date folders before cutoff_date (YYYY-MM-DD): all they
        hold is older than that date."""
        return [
            key
            for compacted in (False, True)
            for date in self.dates(service_name, compacted)
            if date < cutoff_date
            for key in self.keys(service_name, date, compacted)
        ]

    def read_entry(self, key: str, entry_id: str) -> dict[str, Any] | None:
        """The full entry with this id from the object at key, or None if either is gone."""
        data = self.objects.get(key)
        if data is None:
            return None
        return next((r for r in decode_records(data) if r.get("id") == entry_id), None)
