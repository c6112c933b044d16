"""The registry of models whose results the database holds."""

from __future__ import annotations

import pandas as pd

from core.store.query import first_row, read_frame
from core.store.schema import embedding_table_ddl


def list_models(store) -> pd.DataFrame:
    """Models with results here, most recently used first, with their clip counts."""
    return read_frame(
        store,
        # Aggregate predictions by their key first: grouping the joined rows by every
        # model column cost 0.2 s per page at a million clips.
        "SELECT m.model_key, m.model_id, m.revision, m.embedding_dim, m.untrained,"
        " m.first_used, coalesce(p.n_tracks, 0) AS n_tracks, p.last_used"
        " FROM models m LEFT JOIN (SELECT model_key, count(*) AS n_tracks,"
        " max(scored_at) AS last_used FROM predictions GROUP BY model_key) p USING (model_key)"
        " ORDER BY p.last_used DESC NULLS LAST, m.first_used DESC",
    )


def embedding_dim_of(store, model_key: str) -> int | None:
    """The embedding size of a model's results, None for an unknown model."""
    with store.reading() as con:
        row = first_row(
            con.execute("SELECT embedding_dim FROM models WHERE model_key = ?", [model_key])
        )
    return int(row[0]) if row else None


def register_model(store, model_key: str, model_id: str, revision: str, dim: int,
                   untrained: bool) -> None:  # fmt: skip
    """Record a model (once) and create the embedding table of its size."""
    with store.writing(changes_results=False) as con:
        con.execute(
            "INSERT INTO models (model_key, model_id, revision, embedding_dim, untrained) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [model_key, model_id, revision, dim, untrained],
        )
        for statement in embedding_table_ddl(dim):
            con.execute(statement)
