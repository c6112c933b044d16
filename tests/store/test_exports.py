"""Exports of one selection: the clips, frames and embeddings files agree row for row (#10)."""

from __future__ import annotations

import pytest

from core.ingest.pipeline import ingest
from core.ingest.sources import collect
from core.store.database import Store
from tests.conftest import make_corpus


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_exports_of_one_selection_agree_row_for_row(tmp_path, engine, fmt):
    """A recording in two corpora is one row in each export, its corpora listed."""
    import duckdb

    from core.store.export import count_rows, export

    corpus = make_corpus(tmp_path / "c", agents=("ann",), per_agent=3)
    store = Store(tmp_path / "db.duckdb")
    ingest(store, engine, collect([corpus]), "first", frames=True)
    ingest(store, engine, collect([corpus / "ann"]), "second", frames=True)  # same audio
    key = engine.model_key
    rows = {}
    for what in ("clips", "frames", "embeddings"):
        out = tmp_path / f"{what}.{fmt}"
        export(store, what, fmt, out, key)
        reader = "read_parquet" if fmt == "parquet" else "read_csv"
        rows[what] = duckdb.sql(
            f"SELECT DISTINCT corpus, clip_id, track FROM {reader}(?) ORDER BY ALL",
            params=[str(out)],
        ).fetchall()
    assert len(rows["clips"]) == 3 and rows["clips"] == rows["frames"] == rows["embeddings"]
    assert count_rows(store, key)["clips"] == count_rows(store, key)["embeddings"] == 3
    corpora = duckdb.sql(
        f"SELECT DISTINCT corpora FROM {'read_parquet' if fmt == 'parquet' else 'read_csv'}(?)",
        params=[str(tmp_path / f"clips.{fmt}")],
    ).fetchall()
    assert corpora == [(["first", "second"],)] if fmt == "parquet" else [("first|second",)]
