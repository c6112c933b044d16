"""The queries behind "similar recordings" (#27): embeddings in and out of the nearest-neighbour
index (core.search), the exact cosine scan, and the rows a result list shows.

Each function takes the Store and runs on a short-lived read-only connection. The index's keys
(`clip_id`, `track`, `row`) are a Parquet file beside the database; DuckDB reads it with
`read_parquet(?)` (the path is a bound parameter), so a filter or a staleness check is one join.
Every value is bound; the embedding table's name comes from the model's size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from core.records import ClipFilter
from core.store.filters import where_sql
from core.store.keyed import clip_view_of, rows_of
from core.store.schema import CLIP_VIEW, embedding_table

# What a result row shows (one row per clip and track; corpora holding the same audio joined).
_RESULT_COLUMNS = (
    "string_agg(DISTINCT v.corpus, ', ' ORDER BY v.corpus) AS corpus, v.clip_id, v.track,"
    " any_value(v.source_name) AS source_name, any_value(v.agent) AS agent,"
    " any_value(v.recorded_at) AS recorded_at, any_value(v.duration_s) AS duration_s,"
    " any_value(v.top_label) AS top_label, any_value(v.confidence) AS confidence"
)


@contextlib.contextmanager
def _keys_of(keys_file: Path | None) -> Iterator[None]:
    """DuckDB's error for an index keys file a sync has just replaced (and removed), as a
    FileNotFoundError the search answers by scanning exactly."""
    import duckdb

    try:
        yield
    except duckdb.IOException as exc:
        if keys_file is None or Path(keys_file).exists():
            raise
        raise FileNotFoundError(f"similarity index keys replaced: {keys_file}") from exc


def data_version(store) -> int:
    """The version every result-changing write raises (core.store.rollup)."""
    with store.reading() as con:
        return int(con.execute("SELECT version FROM data_version").fetchall()[0][0])


def count_embeddings(store, model_key: str, dim: int) -> int:
    with store.reading() as con:
        return int(
            con.execute(
                f"SELECT count(*) FROM {embedding_table(dim)} WHERE model_key = ?", [model_key]
            ).fetchall()[0][0]
        )


def embedding_batches(
    store, model_key: str, dim: int, keys_file: Path | None = None, batch_rows: int = 50_000
) -> Iterator[tuple[pa.Array, pa.Array, np.ndarray]]:
    """(clip_ids, tracks, (n, dim) float32) of a model's embeddings, batch by batch; with
    `keys_file`, only those the index's keys do not hold yet. The read connection stays open
    while the caller iterates: copy the batches out, do the slow work after."""
    sql = f"SELECT e.clip_id, e.track, e.embedding FROM {embedding_table(dim)} e WHERE e.model_key = ?"
    params: list = [model_key]
    if keys_file is not None:
        sql += (" AND NOT EXISTS (SELECT 1 FROM read_parquet(?) k"
                " WHERE k.clip_id = e.clip_id AND k.track = e.track)")  # fmt: skip
        params.append(str(keys_file))
    with store.reading() as con, _keys_of(keys_file):
        reader = con.sql(sql, params=params).to_arrow_reader(batch_rows)
        for batch in reader:
            flat = batch.column(2).values.to_numpy(zero_copy_only=False)
            yield batch.column(0), batch.column(1), flat.reshape(batch.num_rows, dim)


def gone_rows(store, model_key: str, dim: int, keys_file: Path) -> np.ndarray:
    """Index rows whose embedding the database no longer holds (a corpus was deleted)."""
    with store.reading() as con:
        rows = con.execute(
            f"SELECT k.row FROM read_parquet(?) k WHERE NOT EXISTS (SELECT 1 FROM"
            f" {embedding_table(dim)} e WHERE e.model_key = ? AND e.clip_id = k.clip_id"
            f" AND e.track = k.track)",
            [str(keys_file), model_key],
        ).fetchnumpy()["row"]
    return np.asarray(rows, np.int64)


def embedding_of(store, model_key: str, dim: int, clip_id: str, track: str) -> np.ndarray | None:
    """One track's embedding (float32), or None."""
    keyed, ids = rows_of("e", embedding_table(dim), [clip_id])
    with store.reading() as con:
        rows = con.execute(
            f"WITH {keyed} SELECT embedding FROM e WHERE track = ? AND model_key = ?",
            [*ids, track, model_key],
        ).fetchall()
    return np.asarray(rows[0][0], np.float32) if rows else None


def cluster_embeddings(store, model_key: str, dim: int, projection_key: str, cluster: int,
                       limit: int) -> np.ndarray:  # fmt: skip
    """(n, dim) float32 embeddings of at most `limit` tracks of one cluster of a stored
    projection: a deterministic sample (hash order), whatever the cluster's size."""
    with store.reading() as con:
        table = con.sql(
            f"SELECT e.embedding FROM {embedding_table(dim)} e JOIN projections p"
            f" ON p.clip_id = e.clip_id AND p.track = e.track"
            f" WHERE p.projection_key = ? AND p.cluster = ? AND e.model_key = ?"
            f" ORDER BY hash(p.clip_id || '/' || p.track), p.clip_id, p.track LIMIT ?",
            params=[projection_key, int(cluster), model_key, int(limit)],
        ).to_arrow_table()
    flat = table.column(0).combine_chunks().values.to_numpy(zero_copy_only=False)
    return np.asarray(flat, np.float32).reshape(table.num_rows, dim)


def tracks_of(store, model_key: str, clip_id: str) -> list[str]:
    """The tracks of a clip scored by a model (`mix`, or `agent` and `customer` ...)."""
    keyed, ids = rows_of("p", "predictions", [clip_id])
    with store.reading() as con:
        rows = con.execute(
            f"WITH {keyed} SELECT track FROM p WHERE model_key = ? ORDER BY track",
            [*ids, model_key],
        ).fetchall()
    return [r[0] for r in rows]


def allowed_rows(store, model_key: str, where: ClipFilter, keys_file: Path) -> np.ndarray:
    """The index rows of the tracks `where` selects (filters apply before ranking)."""
    condition, params = where_sql(where)
    with store.reading() as con, _keys_of(keys_file):
        rows = con.execute(
            f"SELECT k.row FROM read_parquet(?) k SEMI JOIN (SELECT v.clip_id, v.track"
            f" FROM ({CLIP_VIEW}) v WHERE {condition}) s"
            f" ON s.clip_id = k.clip_id AND s.track = k.track",
            [str(keys_file), model_key, *params],
        ).fetchnumpy()["row"]
    return np.asarray(rows, np.int64)


def exact_top(store, model_key: str, dim: int, vector: np.ndarray, where: ClipFilter,
              limit: int) -> pd.DataFrame:  # fmt: skip
    """The `limit` tracks of the selection most similar to `vector`, by an exact scan in DuckDB
    (`array_cosine_similarity`): the answer when there is no usable index. Columns clip_id,
    track, similarity."""
    condition, params = where_sql(where)
    with store.reading() as con:
        return con.execute(
            f"WITH sel AS (SELECT DISTINCT v.clip_id, v.track FROM ({CLIP_VIEW}) v"
            f" WHERE {condition})"
            f" SELECT e.clip_id, e.track,"
            f" array_cosine_similarity(e.embedding, ?::FLOAT[{int(dim)}]) AS similarity"
            f" FROM {embedding_table(dim)} e SEMI JOIN sel"
            f" ON sel.clip_id = e.clip_id AND sel.track = e.track"
            f" WHERE e.model_key = ? ORDER BY similarity DESC, e.clip_id, e.track LIMIT ?",
            [model_key, *params, [float(x) for x in vector], model_key, int(limit)],
        ).df()


def selected_count(store, model_key: str, where: ClipFilter) -> int:
    """Distinct tracks the selection holds (what a search ranks)."""
    condition, params = where_sql(where)
    with store.reading() as con:
        return int(
            con.execute(
                f"SELECT count(*) FROM (SELECT DISTINCT v.clip_id, v.track FROM ({CLIP_VIEW}) v"
                f" WHERE {condition})",
                [model_key, *params],
            ).fetchall()[0][0]
        )


def result_rows(store, model_key: str, where: ClipFilter,
                keys: list[tuple[str, str]]) -> pd.DataFrame:  # fmt: skip
    """The rows of these (clip_id, track) keys that the selection still holds, one per key:
    a key deleted or filtered out since the index was built is simply absent."""
    if not keys:
        return pd.DataFrame(columns=["corpus", "clip_id", "track", "source_name", "agent",
                                     "recorded_at", "duration_s", "top_label", "confidence"])  # fmt: skip
    condition, params = where_sql(where)
    view, view_params = clip_view_of(model_key, sorted({c for c, _ in keys}))
    with store.reading() as con:
        rows = con.execute(
            f"SELECT {_RESULT_COLUMNS} FROM ({view}) v WHERE {condition}"
            f" GROUP BY v.clip_id, v.track",
            [*view_params, *params],
        ).df()
    wanted = set(keys)
    keep = [(c, t) in wanted for c, t in zip(rows.clip_id, rows.track, strict=True)]
    return rows[keep].reset_index(drop=True)


def copies_in_selection(store, model_key: str, where: ClipFilter, clip_id: str,
                        track: str) -> int:  # fmt: skip
    """How many corpora of the selection hold this very track (the query's own copies)."""
    condition, params = where_sql(where)
    view, view_params = clip_view_of(model_key, [clip_id])
    with store.reading() as con:
        return int(
            con.execute(
                f"SELECT count(*) FROM ({view}) v WHERE {condition} AND v.track = ?",
                [*view_params, *params, track],
            ).fetchall()[0][0]
        )


def clip_facts(store, model_key: str, clip_id: str) -> pd.DataFrame:
    """A clip's tracks with their nine scores (any one corpus's row), for Compare."""
    view, view_params = clip_view_of(model_key, [clip_id])
    with store.reading() as con:
        return con.execute(
            f"SELECT DISTINCT ON (v.track) v.* FROM ({view}) v ORDER BY v.track, v.corpus",
            view_params,
        ).df()


def clip_ids_starting(store, prefix: str, limit: int = 5) -> list[str]:
    """Clip ids that start with `prefix` (the lists show their first 12 characters)."""
    with store.reading() as con:
        rows = con.execute(
            "SELECT DISTINCT clip_id FROM clips WHERE starts_with(clip_id, ?) LIMIT ?",
            [prefix.lower(), limit],
        ).fetchall()
    return [r[0] for r in rows]
