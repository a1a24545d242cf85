"""D1-compatible SQL: one interface, a SQLite-file backend and a D1 REST backend."""

from logsvc.sql.database import Result, SqlDatabase, SqlError, Statement, open_database

__all__ = ["Result", "SqlDatabase", "SqlError", "Statement", "open_database"]
