"""An ingest's batches of results: what is already stored, and one batch written in one
transaction (one INSERT per table, Arrow in, no row loops)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from core.model.engine import HOP_MS
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipRecord, FileOutcome, ScoredTrack, SegmentRecord
from core.store.columns import BatchColumns
from core.store.corpora import find_corpus_id
from core.store.schema import embedding_table


def cached_tracks(store, model_key: str, clip_ids: Sequence[str],
                  frames: bool) -> set[tuple[str, str]]:  # fmt: skip
    """(clip_id, track) pairs already scored by this model (with frames, if asked)."""
    if not clip_ids:
        return set()
    with store.reading() as con:
        return cached_tracks_in(con, model_key, clip_ids, frames)


def cache_state(
    store, model_key: str, clip_ids: Sequence[str], frames: bool
) -> tuple[dict[str, ClipRecord], set[tuple[str, str]]]:
    """Clips already stored (any corpus) and the (clip, track) pairs this model scored.

    One connection for both: opening the file is the expensive part of a small query.
    """
    if not clip_ids:
        return {}, set()
    with store.reading() as con:
        rows = con.execute(
            "SELECT DISTINCT ON (clip_id) clip_id, source_name, source_path, duration_s,"
            " source_rate_hz, channels, codec, size_bytes FROM clips"
            " WHERE clip_id IN (SELECT unnest(?::VARCHAR[]))",
            [list(clip_ids)],
        ).fetchall()
        cached = cached_tracks_in(con, model_key, clip_ids, frames)
    return {r[0]: ClipRecord(*r) for r in rows}, cached


def write_batch(store, run_id: int, corpus: str, model_key: str, dim: int,
                clips: Sequence[ClipRecord], tracks: Sequence[ScoredTrack],
                outcomes: Sequence[FileOutcome],
                segments: Sequence[SegmentRecord] = ()) -> None:  # fmt: skip
    """Store one batch of an ingest in one transaction: a crash keeps all of it or none."""
    write_columns(
        store, run_id, corpus, model_key, dim,
        BatchColumns.of(dim, clips, tracks, outcomes, segments),
    )  # fmt: skip


def write_columns(store, run_id: int, corpus: str, model_key: str, dim: int,
                  cols: BatchColumns) -> None:  # fmt: skip
    """Store a batch given as Arrow tables: one INSERT per table, all in one transaction.

    Idempotent: a result already stored for (clip, track, model) is kept, and a clip already
    in the corpus takes this file's name, path and metadata.
    """
    scores = ", ".join(SCORE_COLUMNS)
    top = f"list_position([{scores}], greatest({scores}))"
    labels = list(EMOTIONS)
    with store.writing() as con:
        corpus_id = find_corpus_id(con, corpus, create=True)
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


def _batch_tables(cols: BatchColumns) -> list[tuple[str, object]]:
    """The batch's Arrow tables under the names write_columns reads them by."""
    return [(f"batch_{f.name}", getattr(cols, f.name)) for f in fields(cols)]


def cached_tracks_in(con, model_key: str, clip_ids: Sequence[str], frames: bool) -> set:
    """cached_tracks on an open connection (inside the caller's transaction)."""
    table = "frame_curves" if frames else "predictions"
    rows = con.execute(
        f"SELECT clip_id, track FROM {table} WHERE model_key = ? AND clip_id IN "
        f"(SELECT unnest(?::VARCHAR[]))",
        [model_key, list(clip_ids)],
    ).fetchall()
    return {(c, t) for c, t in rows}
