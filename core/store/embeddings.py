"""Embeddings of a selection, as one (N, D) matrix beside its clips."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.records import ClipFilter
from core.store.filters import where_sql
from core.store.models import embedding_dim_of
from core.store.schema import CLIP_VIEW, embedding_table


def select_embeddings(
    store, model_key: str, where: ClipFilter = ClipFilter()
) -> tuple[pd.DataFrame, np.ndarray]:
    """The selection's clips (one row per clip and track) and their (N, D) embeddings."""
    dim = embedding_dim_of(store, model_key)
    if dim is None:
        return pd.DataFrame(), np.zeros((0, 0), np.float32)
    sql_condition, params = where_sql(where)
    # The selection is made distinct and joined without a final ORDER BY: sorting rows
    # that carry 4 KB vectors cost seconds at 100,000 tracks; the keys are sorted here.
    with store.reading() as con:
        table = con.sql(
            f"WITH sel AS (SELECT DISTINCT ON (v.clip_id, v.track) v.* FROM ({CLIP_VIEW}) v"
            f" WHERE {sql_condition} ORDER BY v.clip_id, v.track, v.corpus)"
            f" SELECT sel.*, e.embedding FROM sel JOIN {embedding_table(dim)} e"
            f" ON e.clip_id = sel.clip_id AND e.track = sel.track AND e.model_key = ?",
            params=[model_key, *params, model_key],
        ).to_arrow_table()
    clips = table.drop_columns(["embedding"]).to_pandas()
    order = clips.sort_values(["clip_id", "track"], kind="stable").index.to_numpy()
    # One copy of the fixed-size list's flat values, no per-row Python work.
    vectors = table.column("embedding").combine_chunks()
    matrix = vectors.values.to_numpy(zero_copy_only=False).reshape(table.num_rows, dim)
    return clips.iloc[order].reset_index(drop=True), matrix[order]
