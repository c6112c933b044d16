"""Rows counted as DuckDB's COPY hands them to its writer: the progress of an export.

DuckDB reports no rows while a COPY runs, and its `query_progress()` follows the scan, not the
output (a frames export reads 99 % at a tenth of its time). So the COPY's outermost SELECT hands
one fixed-width column to a function in Python (`type='arrow'`) that counts it: DuckDB calls it
once per vector of 2048 rows, from its own threads. The column is written as
`CASE WHEN meter(c) THEN c ELSE c END`: the same values, and the same statistics, so a Parquet
column DuckDB knows holds no NULL stays `required` (a function's result would turn it
`optional`). The file is written as before (same columns, values and options, the same
parallel writer); the count costs one call per 2048 rows (measured in README, Exports).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pyarrow as pa

RowProgress = Callable[[int, int], None]
"""progress(rows written so far, rows the export will hold); it may raise (core.errors.Cancelled)
to stop the COPY."""

METER = "emoscope_rows_written"
_TRUE = pa.array([True] * 2048)  # DuckDB's vector size: what the meter hands back, sliced
# Passed through the meter as Arrow arrays of fixed width: cheap to hand over and back.
_FIXED_WIDTH = {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DATE",
                "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"}  # fmt: skip


class RowMeter:
    """The function DuckDB calls on every vector of the metered column: counts its rows."""

    def __init__(self, progress: RowProgress, total: int):
        self._progress, self.total, self.rows = progress, total, 0
        self._lock = threading.Lock()
        self.stopped: BaseException | None = None  # what the callback raised, if anything

    def __call__(self, column):
        with self._lock:  # DuckDB's threads call in turn; the callback sees rising counts
            self.rows += len(column)
            try:
                self._progress(self.rows, max(self.total, self.rows))
            except BaseException as exc:
                self.stopped = exc
                raise
        # Any BOOLEAN of the right length will do (both branches are the column itself): a
        # zero-copy slice of a ready one costs less than computing one.
        return (
            _TRUE.slice(0, len(column))
            if len(column) <= len(_TRUE)
            else pa.array([True] * len(column))
        )

    def finish(self) -> None:
        """Report the final count (an export may hold fewer rows than were expected)."""
        with self._lock:
            self._progress(self.rows, self.rows)


def metered(con, sql: str, params: list, meter: RowMeter) -> str:
    """`sql` with one column passed through `meter`, registered on `con` for this connection."""
    described = con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params).description
    pick = next((i for i, (_, kind, *_) in enumerate(described) if str(kind) in _FIXED_WIDTH), 0)
    kind = described[pick][1]
    con.create_function(METER, meter, [kind], "BOOLEAN", type="arrow", null_handling="special",
                        side_effects=True)  # fmt: skip
    columns = [
        f'CASE WHEN {METER}("{name}") THEN "{name}" ELSE "{name}" END AS "{name}"'
        if i == pick
        else f'"{name}"'
        for i, (name, *_) in enumerate(described)
    ]
    return f"SELECT {', '.join(columns)} FROM ({sql})"
