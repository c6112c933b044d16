"""Clips with one model's scores, as whole selections (CLI, exports, tests); the paged table the
pages show is in core.store.aggregates."""

from __future__ import annotations

import pandas as pd

from core.errors import InputError
from core.records import ClipFilter
from core.store.filters import where_sql
from core.store.schema import CLIP_COLUMNS, CLIP_VIEW


def check_column(name: str) -> None:
    """Refuse a column the clip view does not have (user-chosen columns are never bound)."""
    if name not in CLIP_COLUMNS:
        raise InputError(f"unknown column {name!r}; choose one of {', '.join(CLIP_COLUMNS)}.")


def select_clips(store, model_key: str, where: ClipFilter = ClipFilter(),
                 order_by: str = "source_name", limit: int | None = None) -> pd.DataFrame:  # fmt: skip
    """Clips with the 9 scores of one model, filtered; `order_by` must be a known column."""
    check_column(order_by)
    sql_condition, params = where_sql(where)
    sql = (f"SELECT * FROM ({CLIP_VIEW}) v WHERE {sql_condition} "
           f"ORDER BY v.{order_by}, v.clip_id, v.track")  # fmt: skip
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    with store.reading() as con:
        return con.execute(sql, [model_key, *params]).df()
