"""The service's own activity, logged into itself with source_type 'agent' (as the original):
SELECT * FROM logs WHERE service_name LIKE 'logsService%'."""

from __future__ import annotations

from typing import Any

from logsvc import SERVICE_NAME
from logsvc.entries import LogEntry
from logsvc.ingest import Ingestor


def record(ingestor: Ingestor, job: str, level: str, message: str, metadata: dict[str, Any]) -> str:
    """Store one entry under service ``logsService-<job>``; return its id."""
    entry = LogEntry(
        id="",
        service_name=f"{SERVICE_NAME}-{job}",
        level=level,
        message=message,
        timestamp=ingestor.clock(),
        metadata=metadata,
        source_type="agent",
    )
    (stored,) = ingestor.record([entry])
    return stored
