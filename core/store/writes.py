"""The store's writes of an ingest: runs, claims, models, batches of results, projections.

A mixin of core.store.database.Store, which supplies the connections (`writing`, `reading`). Every write
here is one transaction; a batch of results is one INSERT per table (Arrow in, no row loops).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import fields

import pandas as pd

from core.model.engine import HOP_MS
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipRecord, FileOutcome, ScoredTrack, SegmentRecord
from core.store import rollup
from core.store.claims import Claim, Track, claim_tracks, release_claims, still_held
from core.store.columns import BatchColumns
from core.store.reads import _one
from core.store.runs import mark_interrupted_runs, run_user
from core.store.schema import embedding_table, embedding_table_ddl


class StoreWrites:
    """What an ingest writes (core.store.database.Store supplies `writing` and `reading`)."""

    def start_run(
        self, corpus: str, model_key: str, n_files: int, user_name: str | None = None
    ) -> int:
        """Create the corpus if needed and open an ingest run for `user_name`; return its id.

        Runs left 'running' by a process of this host that no longer exists are marked
        'interrupted' first: a killed process never reaches finish_run.
        """
        with self.writing(changes_results=False) as con:
            mark_interrupted_runs(con)
            corpus_id = self._corpus_id(con, corpus, create=True)
            return _one(
                con.execute(
                    "INSERT INTO ingest_runs (corpus_id, model_key, n_files, pid, host, user_name)"
                    " VALUES (?, ?, ?, ?, ?, ?) RETURNING run_id",
                    [
                        corpus_id,
                        model_key,
                        n_files,
                        os.getpid(),
                        socket.gethostname(),
                        run_user(user_name),
                    ],
                )
            )[0]

    def finish_run(self, run_id: int, status: str = "done") -> None:
        """Close a run with its final status ('done', 'interrupted' ...)."""
        with self.writing(changes_results=False) as con:
            con.execute(
                "UPDATE ingest_runs SET finished_at = current_timestamp, status = ? "
                "WHERE run_id = ?",
                [status, run_id],
            )
            release_claims(con, run_id)
            rollup.refresh(con)  # the run's rows are all in: the Overview sums days again

    def claim_tracks(self, run_id: int, model_key: str, tracks: Sequence[Track],
                     frames: bool) -> Claim:  # fmt: skip
        """Claim tracks for scoring, in one transaction with the check of what is stored."""
        with self.writing(changes_results=False) as con:
            mark_interrupted_runs(con)  # a dead run's claims lapse at once
            done = _cached_tracks(con, model_key, sorted({c for c, _ in tracks}), frames)
            return claim_tracks(con, run_id, model_key, tracks, done)

    def held_tracks(self, run_id: int, model_key: str, tracks: Sequence[Track]) -> set[Track]:
        """Which of `tracks` another live ingest still holds a claim on."""
        with self.reading() as con:
            return still_held(con, run_id, model_key, tracks)

    def register_model(self, model_key: str, model_id: str, revision: str, dim: int,
                       untrained: bool) -> None:  # fmt: skip
        with self.writing(changes_results=False) as con:
            con.execute(
                "INSERT INTO models (model_key, model_id, revision, embedding_dim, untrained) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [model_key, model_id, revision, dim, untrained],
            )
            con.execute(embedding_table_ddl(dim))

    def cached_tracks(
        self, model_key: str, clip_ids: Sequence[str], frames: bool
    ) -> set[tuple[str, str]]:
        """(clip_id, track) pairs already scored by this model (with frames, if asked)."""
        if not clip_ids:
            return set()
        with self.reading() as con:
            return _cached_tracks(con, model_key, clip_ids, frames)

    def cache_state(
        self, model_key: str, clip_ids: Sequence[str], frames: bool
    ) -> tuple[dict[str, ClipRecord], set[tuple[str, str]]]:
        """Clips already stored (any corpus) and the (clip, track) pairs this model scored.

        One connection for both: opening the file is the expensive part of a small query.
        """
        if not clip_ids:
            return {}, set()
        with self.reading() as con:
            rows = con.execute(
                "SELECT DISTINCT ON (clip_id) clip_id, source_name, source_path, duration_s,"
                " source_rate_hz, channels, codec, size_bytes FROM clips"
                " WHERE clip_id IN (SELECT unnest(?::VARCHAR[]))",
                [list(clip_ids)],
            ).fetchall()
            cached = _cached_tracks(con, model_key, clip_ids, frames)
        return {r[0]: ClipRecord(*r) for r in rows}, cached

    def write_batch(self, run_id: int, corpus: str, model_key: str, dim: int,
                    clips: Sequence[ClipRecord], tracks: Sequence[ScoredTrack],
                    outcomes: Sequence[FileOutcome],
                    segments: Sequence[SegmentRecord] = ()) -> None:  # fmt: skip
        """Store one batch of an ingest in one transaction: a crash keeps all of it or none."""
        self.write_columns(
            run_id, corpus, model_key, dim, BatchColumns.of(dim, clips, tracks, outcomes, segments)
        )

    def write_columns(
        self, run_id: int, corpus: str, model_key: str, dim: int, cols: BatchColumns
    ) -> None:
        """Store a batch given as Arrow tables: one INSERT per table, all in one transaction.

        Idempotent: a result already stored for (clip, track, model) is kept, and a clip already
        in the corpus takes this file's name, path and metadata.
        """
        scores = ", ".join(SCORE_COLUMNS)
        top = f"list_position([{scores}], greatest({scores}))"
        labels = list(EMOTIONS)
        with self.writing() as con:
            corpus_id = self._corpus_id(con, corpus, create=True)
            for name, table in _batch_tables(cols):
                con.register(name, table)
            con.execute(
                "INSERT INTO clips (corpus_id, clip_id, source_name, source_path, duration_s,"
                " source_rate_hz, channels, codec, size_bytes, agent, recorded_at, speaker, tags,"
                " label) SELECT ?, clip_id, source_name, source_path, duration_s, source_rate_hz,"
                " channels, codec, size_bytes, agent, recorded_at, speaker, tags, label"
                " FROM batch_clips ON CONFLICT (corpus_id, clip_id) DO UPDATE SET source_name ="
                " excluded.source_name, source_path = excluded.source_path, agent ="
                " excluded.agent, recorded_at = excluded.recorded_at, speaker ="
                " excluded.speaker, tags = excluded.tags, label = excluded.label",
                [corpus_id],
            )
            con.execute(
                f"INSERT INTO predictions (clip_id, track, model_key, {scores}, top_label,"
                f" confidence) SELECT clip_id, track, ?, {scores}, (?::VARCHAR[])[{top}],"
                f" greatest({scores}) FROM batch_predictions ON CONFLICT DO NOTHING",
                [model_key, labels],
            )
            con.execute(
                f"INSERT INTO {embedding_table(dim)} SELECT clip_id, track, ?,"
                f" embedding::FLOAT[{int(dim)}] FROM batch_embeddings ON CONFLICT DO NOTHING",
                [model_key],
            )
            con.execute(
                f"INSERT INTO frame_curves SELECT clip_id, track, ?, {HOP_MS}, n_frames, logits"
                " FROM batch_frame_curves ON CONFLICT DO NOTHING",
                [model_key],
            )
            con.execute(
                "INSERT INTO segments SELECT clip_id, track, ?, segment, start_s, end_s,"
                " scores::FLOAT[9], (?::VARCHAR[])[list_position(scores, list_max(scores))],"
                " list_max(scores) FROM batch_segments ON CONFLICT DO NOTHING",
                [model_key, labels],
            )
            con.execute(
                "INSERT INTO ingest_files (run_id, source_name, clip_id, status, seconds_audio,"
                " message) SELECT ?, source_name, clip_id, status, seconds_audio, message"
                " FROM batch_outcomes",
                [run_id],
            )

    def save_projection(self, key: str, frame: pd.DataFrame) -> None:
        """Store a 2-D projection with cluster ids (columns clip_id, track, x, y, cluster).

        One columnar INSERT from the DataFrame: 100,000 points go in at once, not row by row.
        """
        points = frame[["clip_id", "track", "x", "y", "cluster"]]
        with self.writing(changes_results=False) as con:
            con.execute("DELETE FROM projections WHERE projection_key = ?", [key])
            con.register("new_points", points)
            con.execute(
                "INSERT INTO projections SELECT ?, clip_id, track, x, y, cluster FROM new_points",
                [key],
            )
            con.unregister("new_points")

    @staticmethod
    def _corpus_id(con, name: str, create: bool) -> int | None:
        row = _one(con.execute("SELECT corpus_id FROM corpora WHERE name = ?", [name]))
        if row or not create:
            return row[0] if row else None
        return _one(
            con.execute("INSERT INTO corpora (name) VALUES (?) RETURNING corpus_id", [name])
        )[0]


def _batch_tables(cols: BatchColumns) -> list[tuple[str, object]]:
    """The batch's Arrow tables under the names write_columns reads them by."""
    return [(f"batch_{f.name}", getattr(cols, f.name)) for f in fields(cols)]


def _cached_tracks(con, model_key: str, clip_ids: Sequence[str], frames: bool) -> set:
    table = "frame_curves" if frames else "predictions"
    rows = con.execute(
        f"SELECT clip_id, track FROM {table} WHERE model_key = ? AND clip_id IN "
        f"(SELECT unnest(?::VARCHAR[]))",
        [model_key, list(clip_ids)],
    ).fetchall()
    return {(c, t) for c, t in rows}
