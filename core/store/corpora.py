"""Corpora: the named collections clips are ingested into."""

from __future__ import annotations

import pandas as pd

from core.store.query import first_row, read_frame


def list_corpora(store) -> pd.DataFrame:
    """Corpora with clip counts and total audio."""
    return read_frame(
        store,
        "SELECT co.name AS corpus, coalesce(c.clips, 0) AS clips,"
        " coalesce(c.seconds_audio, 0) AS seconds_audio, co.created_at"
        " FROM corpora co LEFT JOIN (SELECT corpus_id, count(*) AS clips,"
        " sum(duration_s) AS seconds_audio FROM clips GROUP BY corpus_id) c USING (corpus_id)"
        " ORDER BY co.name",
    )


def find_corpus_id(con, name: str, create: bool) -> int | None:
    """A corpus's id on an open connection; with `create`, a new corpus when there is none."""
    row = first_row(con.execute("SELECT corpus_id FROM corpora WHERE name = ?", [name]))
    if row or not create:
        return row[0] if row else None
    return first_row(
        con.execute("INSERT INTO corpora (name) VALUES (?) RETURNING corpus_id", [name])
    )[0]
