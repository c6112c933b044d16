"""The database's own consistency: rows that would mean a broken database, counted."""

from __future__ import annotations

from core.store.query import first_row
from core.store.schema import embedding_table


def integrity_report(store) -> dict[str, int]:
    """Counts of rows that would mean a broken database; all zero when consistent."""
    durations = "SELECT clip_id, any_value(duration_s) AS duration_s FROM clips GROUP BY clip_id"
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
        "bad_curve_lengths": "SELECT count(*) FROM frame_curves WHERE len(logits) <> n_frames * 9",
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
    with store.reading() as con:
        report = {name: first_row(con.execute(sql))[0] for name, sql in checks.items()}
        for (dim,) in con.execute("SELECT DISTINCT embedding_dim FROM models").fetchall():
            report[f"predictions_without_embedding_d{dim}"] = first_row(
                con.execute(
                    f"SELECT count(*) FROM predictions p JOIN models m USING (model_key)"
                    f" WHERE m.embedding_dim = ? AND NOT EXISTS (SELECT 1 FROM"
                    f" {embedding_table(dim)} e WHERE e.clip_id = p.clip_id"
                    f" AND e.track = p.track AND e.model_key = p.model_key)",
                    [dim],
                )
            )[0]
    return report
