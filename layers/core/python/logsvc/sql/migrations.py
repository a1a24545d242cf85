"""Apply migrations/NNNN_name.sql in order, recorded in wrangler's ``d1_migrations`` table.

The table and its rows match what ``wrangler d1 migrations apply`` writes, so either tool
can apply the next migration after the other.
"""

from __future__ import annotations

from pathlib import Path

from logsvc.sql.database import SqlDatabase

_CREATE_TABLE = """CREATE TABLE IF NOT EXISTS d1_migrations(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)"""


def migration_files(directory: Path) -> list[Path]:
    """The migration files in the order they apply (wrangler sorts by name)."""
    return sorted(p for p in directory.glob("*.sql") if p.is_file())


def applied_migrations(db: SqlDatabase) -> set[str]:
    db.execute(_CREATE_TABLE)
    return {row["name"] for row in db.query("SELECT name FROM d1_migrations")}


def apply_migrations(db: SqlDatabase, directory: Path) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    done = applied_migrations(db)
    applied = []
    for path in migration_files(directory):
        if path.name in done:
            continue
        db.run_script(path.read_text(encoding="utf-8"))
        db.execute("INSERT INTO d1_migrations (name) VALUES (?)", (path.name,))
        applied.append(path.name)
    return applied
