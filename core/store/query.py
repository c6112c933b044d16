"""Small helpers every query module uses: run one read into a frame, take a result's first row."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def read_frame(store, sql: str, params: Sequence = ()) -> pd.DataFrame:
    """Run one read query on a short-lived read-only connection of `store`."""
    with store.reading() as con:
        return con.execute(sql, list(params)).df()


def first_row(result) -> tuple | None:
    """The first row of a result, draining it: DuckDB refuses new work on an unfinished result."""
    rows = result.fetchall()
    return rows[0] if rows else None
