"""D1-compatible SQL: one interface; backends for a SQLite file, D1's REST API and the D1
bridge Worker, chosen by URL."""

from logsvc.sql.backends import open_database
from logsvc.sql.database import (
    Result,
    SqlDatabase,
    SqlError,
    Statement,
    blob_bytes,
    blob_column,
)

__all__ = [
    "Result",
    "SqlDatabase",
    "SqlError",
    "Statement",
    "blob_bytes",
    "blob_column",
    "open_database",
]
