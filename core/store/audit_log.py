"""The audit log's table: rows appended, rows read (the rules are core.access.audit's)."""

from __future__ import annotations

import pandas as pd


def insert_row(con, user_name: str, action: str, detail: str) -> None:
    """Append one row on an open write connection (inside the caller's transaction)."""
    con.execute(
        "INSERT INTO audit_log (user_name, action, detail) VALUES (?, ?, ?)",
        [user_name, action, detail],
    )


def newest_rows(store, limit: int, action: str | None) -> pd.DataFrame:
    """The newest `limit` rows (newest first), optionally of one action."""
    with store.reading() as con:
        return con.execute(
            "SELECT event_id, logged_at, user_name, action, detail FROM audit_log"
            " WHERE ? IS NULL OR action = ? ORDER BY event_id DESC LIMIT ?",
            [action, action, int(limit)],
        ).df()
