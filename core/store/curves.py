"""Frame curves (20 ms logits) and the windows of long recordings: one track's, the tracks that
have them, and the long format the exports write."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter
from core.store.filters import where_sql, with_search
from core.store.keyed import clip_view, rows_of
from core.store.query import read_frame
from core.store.schema import CLIP_VIEW


def read_frame_logits(store, clip_id: str, model_key: str,
                      track: str = "mix") -> np.ndarray | None:  # fmt: skip
    """(T, 9) frame logits of one track, or None when its curve was not computed."""
    with store.reading() as con:
        curves, ids = rows_of("f", "frame_curves", [clip_id])
        table = con.sql(
            f"WITH {curves} SELECT n_frames, logits FROM f WHERE model_key = ? AND track = ?",
            params=[*ids, model_key, track],
        ).to_arrow_table()
    if table.num_rows == 0:
        return None
    values = table.column("logits").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.float32).reshape(
        int(table.column("n_frames")[0].as_py()), len(EMOTIONS)
    )


def read_segments(store, clip_id: str, model_key: str, track: str = "mix") -> pd.DataFrame:
    """Windows of a long recording with their scores (empty for clips scored whole)."""
    windows, ids = rows_of("s", "segments", [clip_id])
    return read_frame(
        store,
        f"WITH {windows} SELECT segment, start_s, end_s, top_label, confidence, scores FROM s"
        " WHERE model_key = ? AND track = ? ORDER BY segment",
        [*ids, model_key, track],
    )


def tracks_with_curves(store, model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
    """Clips (and tracks) of the selection whose frame curves are stored, one row per
    (clip, track) even when several corpora hold the same audio (their names joined)."""
    sql_condition, params = where_sql(where)
    return read_frame(
        store,
        f"SELECT string_agg(DISTINCT v.corpus, ', ' ORDER BY v.corpus) AS corpus, v.clip_id,"
        f" any_value(v.source_name) AS source_name, any_value(v.source_path) AS source_path,"
        f" v.track, any_value(v.duration_s) AS duration_s, any_value(v.top_label) AS top_label"
        f" FROM ({CLIP_VIEW}) v JOIN frame_curves f ON f.clip_id = v.clip_id"
        f" AND f.track = v.track AND f.model_key = v.model_key WHERE {sql_condition}"
        f" GROUP BY v.clip_id, v.track ORDER BY source_name, v.track, v.clip_id",
        [model_key, *params],
    )


def curve_tracks(store, model_key: str, search: str = "", clip_ids: Sequence[str] = (),
                 limit: int = 200) -> pd.DataFrame:  # fmt: skip
    """Tracks with stored frame curves, one row per (clip, track) whatever the number of
    corpora holding the audio (their names joined), matching a file-name search; the
    column `matches` counts every match, not only the `limit` rows returned."""
    where = ClipFilter(clip_ids=tuple(clip_ids))
    sql_condition, params = with_search(where, search)
    view, view_params = clip_view(model_key, where)
    return read_frame(
        store,
        f"SELECT v.clip_id, v.track, any_value(v.source_name) AS source_name,"
        f" any_value(v.source_path) AS source_path, any_value(v.duration_s) AS duration_s,"
        f" any_value(v.top_label) AS top_label,"
        f" string_agg(DISTINCT v.corpus, ', ' ORDER BY v.corpus) AS corpus,"
        f" count(*) OVER () AS matches"
        f" FROM ({view}) v JOIN frame_curves f ON f.clip_id = v.clip_id"
        f" AND f.track = v.track AND f.model_key = v.model_key WHERE {sql_condition}"
        f" GROUP BY v.clip_id, v.track ORDER BY source_name, v.track, v.clip_id LIMIT ?",
        [*view_params, *params, int(limit)],
    )


def read_frame_rows(store, model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
    """Long-format frame curves: one row per clip, track and 20 ms frame, 9 probabilities."""
    sql, params = frame_rows_sql(model_key, where)
    return read_frame(store, sql, params)


def frame_rows_sql(model_key: str, where: ClipFilter, ordered: bool = True) -> tuple[str, list]:
    """The long-format frame query (unnested in SQL, so COPY streams it) and its parameters.

    The 9 probabilities are computed right where a curve is unnested, so no curve (a list of
    T*9 floats) ever enters a join: a hash join that built on curve rows held every one of them
    (18 GB resident for the frames of 1M synthetic clips). Curves are picked with a semi-join
    on the selection's keys. An export leaves `ordered` off: sorting a thousand hours of frames
    would hold them all.
    """
    sql_condition, params = where_sql(where)
    softmax = _softmax_sql("logits", "i")
    sql = f"""WITH sel AS (SELECT DISTINCT ON (v.clip_id, v.track) v.corpus, v.clip_id,
                  v.source_name, v.track FROM ({CLIP_VIEW}) v
                  WHERE {sql_condition} ORDER BY v.clip_id, v.track, v.corpus),
        f AS (SELECT clip_id, track, i, i * hop_ms / 1000.0 AS time_s, {softmax}
              FROM (SELECT clip_id, track, hop_ms, logits, unnest(range(n_frames)) AS i
                    FROM frame_curves WHERE model_key = ?
                    AND clip_id || '/' || track IN (SELECT clip_id || '/' || track FROM sel)))
        SELECT sel.corpus, sel.clip_id, sel.source_name, f.track, f.i AS frame, f.time_s,
               {", ".join(f"f.{c}" for c in SCORE_COLUMNS)}
        FROM f JOIN sel ON sel.clip_id = f.clip_id AND sel.track = f.track"""
    if ordered:
        sql += " ORDER BY sel.source_name, f.track, f.i"
    return sql, [model_key, *params, model_key]


def _softmax_sql(logits: str, frame: str) -> str:
    """Per-frame softmax of flattened logits, one column per emotion (index math bound to ints)."""
    k = len(EMOTIONS)
    cells = [f"{logits}[{frame} * {k} + {j + 1}]" for j in range(k)]
    top = f"greatest({', '.join(cells)})"
    denominator = " + ".join(f"exp({c} - {top})" for c in cells)
    return ", ".join(
        f"exp({cell} - {top}) / ({denominator}) AS {column}"
        for cell, column in zip(cells, SCORE_COLUMNS, strict=True)
    )
