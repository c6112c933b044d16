"""Database files as an older EmoScope left them, for the migration tests."""

from __future__ import annotations

from pathlib import Path

import duckdb

from core.store.schema import apply_step


def database_at(path: Path, version: int) -> duckdb.DuckDBPyConnection:
    """A new file at `path` with schema steps 1..`version` applied and recorded, as that
    version wrote it; the open connection, for the test to add rows before closing it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_info (version INTEGER NOT NULL)")
    for step in range(1, version + 1):
        apply_step(con, step)
    return con
