"""Every read query of the store: what the pages, the CLI and the exports ask of the database.

`StoreReads` is mixed into `core.store.database.Store`, which supplies `reading()` (a short-lived
read-only connection). Every value is bound; user-chosen columns pass `check_column`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter
from core.store.aggregates import AggregateReads
from core.store.schema import CLIP_COLUMNS, CLIP_VIEW, embedding_table


class StoreReads(AggregateReads):
    """Read queries; see core.store.database.Store for connections."""

    def _query(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """Run one read query on a short-lived read-only connection."""
        with self.reading() as con:
            return con.execute(sql, list(params)).df()

    def models(self) -> pd.DataFrame:
        """Models with results here, most recently used first, with their clip counts."""
        return self._query(
            # Aggregate predictions by their key first: grouping the joined rows by every
            # model column cost 0.2 s per page at a million clips.
            "SELECT m.model_key, m.model_id, m.revision, m.embedding_dim, m.untrained,"
            " m.first_used, coalesce(p.n_tracks, 0) AS n_tracks, p.last_used"
            " FROM models m LEFT JOIN (SELECT model_key, count(*) AS n_tracks,"
            " max(scored_at) AS last_used FROM predictions GROUP BY model_key) p USING (model_key)"
            " ORDER BY p.last_used DESC NULLS LAST, m.first_used DESC"
        )

    def corpora(self) -> pd.DataFrame:
        """Corpora with clip counts and total audio."""
        return self._query(
            "SELECT co.name AS corpus, coalesce(c.clips, 0) AS clips,"
            " coalesce(c.seconds_audio, 0) AS seconds_audio, co.created_at"
            " FROM corpora co LEFT JOIN (SELECT corpus_id, count(*) AS clips,"
            " sum(duration_s) AS seconds_audio FROM clips GROUP BY corpus_id) c USING (corpus_id)"
            " ORDER BY co.name"
        )

    def clips(self, model_key: str, where: ClipFilter = ClipFilter(), order_by: str = "source_name",
              limit: int | None = None) -> pd.DataFrame:  # fmt: skip
        """Clips with the 9 scores of one model, filtered; `order_by` must be a known column."""
        check_column(order_by)
        condition, params = where.where()
        sql = (f"SELECT * FROM ({CLIP_VIEW}) v WHERE {condition} "
               f"ORDER BY v.{order_by}, v.clip_id, v.track")  # fmt: skip
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self.reading() as con:
            return con.execute(sql, [model_key, *params]).df()

    def filter_options(self) -> dict:
        """Distinct values for the dashboard's filter widgets, each agent's clip count, and the
        date and duration bounds: one connection for the whole sidebar."""
        with self.reading() as con:
            agent_clips = dict(
                con.execute(
                    "SELECT agent, count(*) FROM clips WHERE agent IS NOT NULL"
                    " GROUP BY agent ORDER BY agent"
                ).fetchall()
            )
            bounds = _one(
                con.execute("SELECT min(recorded_at), max(recorded_at), max(duration_s) FROM clips")
            )
            tracks = [
                r[0]
                for r in con.execute("SELECT DISTINCT track FROM predictions ORDER BY 1").fetchall()
            ]
        return {"agents": list(agent_clips), "agent_clips": agent_clips, "date_min": bounds[0], "date_max": bounds[1],
                "max_duration_s": bounds[2] or 0.0, "tracks": tracks}  # fmt: skip

    def frame_logits(self, clip_id: str, model_key: str, track: str = "mix") -> np.ndarray | None:
        """(T, 9) frame logits of one track, or None when its curve was not computed."""
        with self.reading() as con:
            table = con.sql(
                "SELECT n_frames, logits FROM frame_curves"
                " WHERE clip_id = ? AND model_key = ? AND track = ?",
                params=[clip_id, model_key, track],
            ).to_arrow_table()
        if table.num_rows == 0:
            return None
        values = table.column("logits").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return values.astype(np.float32).reshape(
            int(table.column("n_frames")[0].as_py()), len(EMOTIONS)
        )

    def segments(self, clip_id: str, model_key: str, track: str = "mix") -> pd.DataFrame:
        """Windows of a long recording with their scores (empty for clips scored whole)."""
        return self._query(
            "SELECT segment, start_s, end_s, top_label, confidence, scores FROM segments"
            " WHERE clip_id = ? AND model_key = ? AND track = ? ORDER BY segment",
            [clip_id, model_key, track],
        )

    def tracks_with_curves(self, model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
        """Clips (and tracks) of the selection whose frame curves are stored, one row per
        (clip, track) even when several corpora hold the same audio (their names joined)."""
        condition, params = where.where()
        return self._query(
            f"SELECT string_agg(DISTINCT v.corpus, ', ' ORDER BY v.corpus) AS corpus, v.clip_id,"
            f" any_value(v.source_name) AS source_name, any_value(v.source_path) AS source_path,"
            f" v.track, any_value(v.duration_s) AS duration_s, any_value(v.top_label) AS top_label"
            f" FROM ({CLIP_VIEW}) v JOIN frame_curves f ON f.clip_id = v.clip_id"
            f" AND f.track = v.track AND f.model_key = v.model_key WHERE {condition}"
            f" GROUP BY v.clip_id, v.track ORDER BY source_name, v.track, v.clip_id",
            [model_key, *params],
        )

    def embeddings(
        self, model_key: str, where: ClipFilter = ClipFilter()
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The selection's clips (one row per clip and track) and their (N, D) embeddings."""
        dim = self.embedding_dim(model_key)
        if dim is None:
            return pd.DataFrame(), np.zeros((0, 0), np.float32)
        condition, params = where.where()
        # The selection is made distinct and joined without a final ORDER BY: sorting rows
        # that carry 4 KB vectors cost seconds at 100,000 tracks; the keys are sorted here.
        with self.reading() as con:
            table = con.sql(
                f"WITH sel AS (SELECT DISTINCT ON (v.clip_id, v.track) v.* FROM ({CLIP_VIEW}) v"
                f" WHERE {condition} ORDER BY v.clip_id, v.track, v.corpus)"
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

    def projection(self, key: str) -> pd.DataFrame:
        """A stored projection (clip_id, track, x, y, cluster), empty when not computed yet."""
        return self._query(
            "SELECT clip_id, track, x, y, cluster FROM projections WHERE projection_key = ?"
            " ORDER BY clip_id, track",
            [key],
        )

    def runs(self, limit: int = 20) -> pd.DataFrame:
        """Recent ingest runs with their outcome counts."""
        return self._query(
            "SELECT r.run_id, co.name AS corpus, r.model_key, r.started_at, r.finished_at,"
            " r.status, r.n_files,"
            " count(*) FILTER (WHERE f.status = 'scored') AS scored,"
            " count(*) FILTER (WHERE f.status = 'cached') AS cached,"
            " count(*) FILTER (WHERE f.status = 'failed') AS failed"
            " FROM ingest_runs r JOIN corpora co USING (corpus_id)"
            " LEFT JOIN ingest_files f USING (run_id)"
            " GROUP BY ALL ORDER BY r.run_id DESC LIMIT ?",
            [limit],
        )

    def run_files(self, run_id: int) -> pd.DataFrame:
        """Per-file outcomes of one ingest run."""
        return self._query(
            "SELECT source_name, status, clip_id, seconds_audio, message FROM ingest_files"
            " WHERE run_id = ? ORDER BY logged_at, source_name",
            [run_id],
        )

    def frame_rows(self, model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
        """Long-format frame curves: one row per clip, track and 20 ms frame, 9 probabilities."""
        sql, params = frame_rows_sql(model_key, where)
        return self._query(sql, params)

    def integrity_report(self) -> dict[str, int]:
        """Counts of rows that would mean a broken database; all zero when consistent."""
        durations = (
            "SELECT clip_id, any_value(duration_s) AS duration_s FROM clips GROUP BY clip_id"
        )
        checks = {
            "predictions_without_clip": "SELECT count(*) FROM predictions p WHERE NOT EXISTS"
            " (SELECT 1 FROM clips c WHERE c.clip_id = p.clip_id)",
            "clips_without_prediction": "SELECT count(*) FROM clips c WHERE NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.clip_id = c.clip_id)",
            "curves_without_prediction": "SELECT count(*) FROM frame_curves f WHERE NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.clip_id = f.clip_id AND p.track = f.track"
            " AND p.model_key = f.model_key)",
            "segments_without_prediction": "SELECT count(*) FROM segments s WHERE NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.clip_id = s.clip_id AND p.track = s.track"
            " AND p.model_key = s.model_key)",
            "bad_curve_lengths": "SELECT count(*) FROM frame_curves"
            " WHERE len(logits) <> n_frames * 9",
            # A half-written clip: a curve or a set of segments that stops short of the audio.
            "curves_not_covering_clip": f"SELECT count(*) FROM frame_curves f JOIN ({durations})"
            " d USING (clip_id) WHERE abs(f.n_frames - d.duration_s * 1000 / f.hop_ms) > 2",
            "segments_not_tiling_clip": "SELECT count(*) FROM (SELECT clip_id, min(start_s) AS lo,"
            " max(end_s) AS hi, sum(end_s - start_s) AS covered, count(*) AS n,"
            " max(segment) AS last FROM segments GROUP BY clip_id, track, model_key) s"
            f" JOIN ({durations}) d USING (clip_id) WHERE s.lo <> 0 OR abs(s.hi - s.covered) > 1e-3"
            " OR s.last <> s.n - 1 OR abs(s.hi - d.duration_s) > 0.05",
            # The run log and the stored clips tell the same story.
            "finished_runs_missing_file_rows": "SELECT count(*) FROM ingest_runs r"
            " WHERE r.status = 'done' AND r.n_files <> (SELECT count(*) FROM ingest_files f"
            " WHERE f.run_id = r.run_id)",
            "logged_clips_missing": "SELECT count(*) FROM ingest_files f JOIN ingest_runs r"
            " USING (run_id) WHERE f.status <> 'failed' AND NOT EXISTS (SELECT 1 FROM clips c"
            " WHERE c.corpus_id = r.corpus_id AND c.clip_id = f.clip_id)",
            "clips_never_logged": "SELECT count(*) FROM clips c WHERE NOT EXISTS (SELECT 1"
            " FROM ingest_files f JOIN ingest_runs r USING (run_id) WHERE f.status <> 'failed'"
            " AND r.corpus_id = c.corpus_id AND f.clip_id = c.clip_id)",
        }
        with self.reading() as con:
            report = {name: _one(con.execute(sql))[0] for name, sql in checks.items()}
            for (dim,) in con.execute("SELECT DISTINCT embedding_dim FROM models").fetchall():
                report[f"predictions_without_embedding_d{dim}"] = _one(
                    con.execute(
                        f"SELECT count(*) FROM predictions p JOIN models m USING (model_key)"
                        f" WHERE m.embedding_dim = ? AND NOT EXISTS (SELECT 1 FROM"
                        f" {embedding_table(dim)} e WHERE e.clip_id = p.clip_id"
                        f" AND e.track = p.track AND e.model_key = p.model_key)",
                        [dim],
                    )
                )[0]
        return report

    def embedding_dim(self, model_key: str) -> int | None:
        """The embedding size of a model's results, None for an unknown model."""
        with self.reading() as con:
            row = _one(
                con.execute("SELECT embedding_dim FROM models WHERE model_key = ?", [model_key])
            )
        return int(row[0]) if row else None


def _one(result) -> tuple | None:
    """The first row of a result, draining it: DuckDB refuses new work on an unfinished result."""
    rows = result.fetchall()
    return rows[0] if rows else None


def check_column(name: str) -> None:
    if name not in CLIP_COLUMNS:
        raise InputError(f"unknown column {name!r}; choose one of {', '.join(CLIP_COLUMNS)}.")


def frame_rows_sql(model_key: str, where: ClipFilter, ordered: bool = True) -> tuple[str, list]:
    """The long-format frame query (unnested in SQL, so COPY streams it) and its parameters.

    The 9 probabilities are computed right where a curve is unnested, so no curve (a list of
    T*9 floats) ever enters a join: a hash join that built on curve rows held every one of them
    (18 GB resident for the frames of 1M synthetic clips). Curves are picked with a semi-join
    on the selection's keys. An export leaves `ordered` off: sorting a thousand hours of frames
    would hold them all.
    """
    condition, params = where.where()
    softmax = _softmax_sql("logits", "i")
    sql = f"""WITH sel AS (SELECT DISTINCT ON (v.clip_id, v.track) v.corpus, v.clip_id,
                  v.source_name, v.track FROM ({CLIP_VIEW}) v
                  WHERE {condition} ORDER BY v.clip_id, v.track, v.corpus),
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
