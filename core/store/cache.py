"""The inference cache as a lookup: one clip's stored scores (and embedding) for one model.

A clip is the SHA-256 of its bytes (core.store.database), so audio any ingest already scored is
answered from here without running the model.
"""

from __future__ import annotations

import numpy as np

from core.model.labels import SCORE_COLUMNS
from core.store.schema import embedding_table


def scored(store, clip_id: str, model_key: str, track: str = "mix") -> dict | None:
    """{'scores': (9,), 'embedding': (D,) or None} of a stored prediction, else None."""
    with store.reading() as con:
        row = con.execute(
            f"SELECT {', '.join(SCORE_COLUMNS)} FROM predictions"
            " WHERE clip_id = ? AND track = ? AND model_key = ?",
            [clip_id, track, model_key],
        ).fetchone()
        if row is None:
            return None
        dim = con.execute(
            "SELECT embedding_dim FROM models WHERE model_key = ?", [model_key]
        ).fetchone()
        vector = None
        if dim is not None:
            found = con.execute(
                f"SELECT embedding::FLOAT[] FROM {embedding_table(int(dim[0]))}"
                " WHERE clip_id = ? AND track = ? AND model_key = ?",
                [clip_id, track, model_key],
            ).fetchone()
            vector = None if found is None else np.asarray(found[0], dtype=np.float32)
    return {"scores": np.asarray(row, dtype=np.float32), "embedding": vector}
