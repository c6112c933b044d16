"""Reads of one clip, or a page's few, go through the single-column clip_id indexes (schema
step 13, core.store.keyed): the same rows as the whole view gives, read by index, not by a scan
of every row (DuckDB says which in its plan)."""

from __future__ import annotations

import re

import pandas as pd

from core.store.database import Store
from core.store.keyed import clip_view_of, rows_of
from core.store.models import list_models
from core.store.schema import CLIP_KEYED_TABLES, CLIP_VIEW, embedding_table
from tests.store.older import database_at


def plan(store: Store, sql: str, params: list) -> str:
    with store.reading() as con:
        return con.execute(f"EXPLAIN ANALYZE {sql}", params).fetchall()[0][1]


def scans(text: str) -> list[str]:
    """The types of a plan's table scans (its boxes are drawn side by side, several a line)."""
    return re.findall(r"Type: (Index Scan|Sequential Scan)", text)


def test_every_keyed_table_is_read_by_its_clip_id_index(synth_db):
    """One clip's rows of each table, the same as a scan finds, read by the index (a clip each
    table holds: for one outside a table's range of ids DuckDB reads nothing at all)."""
    store = Store(synth_db)
    for table in (*CLIP_KEYED_TABLES, embedding_table(1024)):
        with store.reading() as con:
            clip_id = con.execute(f"SELECT min(clip_id) FROM {table}").fetchall()[0][0]
            expected = con.execute(f"SELECT count(*) FROM {table} WHERE clip_id = ?",
                                   [clip_id]).fetchall()[0][0]  # fmt: skip
        keyed, params = rows_of("k", table, [clip_id, clip_id])  # a repeated id: one placeholder
        assert params == [clip_id] and expected > 0
        sql = f"WITH {keyed} SELECT count(*) FROM k"
        with store.reading() as con:
            assert con.execute(sql, params).fetchall()[0][0] == expected
        assert scans(plan(store, sql, params)) == ["Index Scan"], table


def test_the_keyed_clip_view_equals_the_whole_view_filtered_by_id(synth_db):
    store = Store(synth_db)
    model_key = list_models(store).model_key.iloc[0]
    with store.reading() as con:
        a, b = [
            r[0]
            for r in con.execute("SELECT clip_id FROM clips ORDER BY clip_id LIMIT 2").fetchall()
        ]
    order = " ORDER BY v.clip_id, v.track, v.corpus"
    for ids in ([a], [a, b, a, "not-a-clip"], []):
        view, params = clip_view_of(model_key, ids)
        with store.reading() as con:
            keyed = con.execute(f"SELECT * FROM ({view}) v{order}", params).df()
            whole = con.execute(f"SELECT * FROM ({CLIP_VIEW}) v WHERE list_contains(?, v.clip_id)"
                                f"{order}", [model_key, ids]).df()  # fmt: skip
        pd.testing.assert_frame_equal(keyed, whole)
        assert len(keyed) == (0 if not ids else len(whole)) and (
            not ids or len(keyed) >= len(set(ids)) - 1
        )
    view, params = clip_view_of(model_key, [a, b])
    found = scans(plan(store, f"SELECT * FROM ({view}) v", params))
    assert found.count("Index Scan") == 2 and found.count("Sequential Scan") <= 1  # corpora


def test_an_older_file_gets_the_clip_id_indexes_when_migrated(tmp_path):
    """Step 13 indexes the tables of a file written before it, the embedding tables (named by
    their size at run time) included, and keeps their rows."""
    path = tmp_path / "v12.duckdb"
    con = database_at(path, 12)
    con.execute("INSERT INTO models VALUES ('m', 'm', 'r', 4, TRUE, now())")
    con.execute(f"CREATE TABLE {embedding_table(4)} (clip_id VARCHAR NOT NULL, track VARCHAR NOT"
                " NULL, model_key VARCHAR NOT NULL, embedding FLOAT[4] NOT NULL,"
                " PRIMARY KEY (clip_id, track, model_key))")  # fmt: skip
    con.execute(f"INSERT INTO {embedding_table(4)} VALUES ('c1', 'mix', 'm', [1, 2, 3, 4])")
    con.close()
    store = Store(path)
    with store.reading() as con:
        indexes = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        kept = con.execute(f"SELECT embedding FROM {embedding_table(4)}").fetchall()
    assert indexes >= {f"{t}_clip_id" for t in (*CLIP_KEYED_TABLES, embedding_table(4))}
    assert kept == [((1.0, 2.0, 3.0, 4.0),)]
