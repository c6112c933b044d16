"""A batch of ingest results as Arrow tables, one per database table, for columnar writes.

DuckDB inserts a whole Arrow table in one statement; one INSERT per clip, score row,
embedding and frame curve was the slowest part of an ingest (issue #8's profile: 21 s of 45 s).
`BatchColumns.of` turns the records an ingest produces into these tables; `bench/synth_db.py`
builds them directly from numpy. `core.store.batches.write_columns` writes one in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from core.model.labels import SCORE_COLUMNS
from core.records import ClipRecord, FileOutcome, ScoredTrack, SegmentRecord

N_CLASSES = len(SCORE_COLUMNS)

CLIPS = pa.schema([
    ("clip_id", pa.string()), ("source_name", pa.string()), ("source_path", pa.string()),
    ("duration_s", pa.float64()), ("source_rate_hz", pa.int32()), ("channels", pa.int32()),
    ("codec", pa.string()), ("size_bytes", pa.int64()), ("agent", pa.string()),
    ("recorded_at", pa.timestamp("us")), ("speaker", pa.string()), ("tags", pa.list_(pa.string())),
    ("label", pa.string()),
])  # fmt: skip
PREDICTIONS = pa.schema(
    [("clip_id", pa.string()), ("track", pa.string())] + [(c, pa.float32()) for c in SCORE_COLUMNS]
)
FRAME_CURVES = pa.schema([
    ("clip_id", pa.string()), ("track", pa.string()), ("n_frames", pa.int32()),
    ("logits", pa.list_(pa.float32())),
])  # fmt: skip
SEGMENTS = pa.schema([
    ("clip_id", pa.string()), ("track", pa.string()), ("segment", pa.int32()),
    ("start_s", pa.float64()), ("end_s", pa.float64()),
    ("scores", pa.list_(pa.float32(), N_CLASSES)),
])  # fmt: skip
OUTCOMES = pa.schema([
    ("source_name", pa.string()), ("clip_id", pa.string()), ("status", pa.string()),
    ("seconds_audio", pa.float64()), ("message", pa.string()),
])  # fmt: skip


def embeddings_schema(dim: int) -> pa.Schema:
    """clip_id, track, and the embedding as a fixed-size list (DuckDB's FLOAT[dim])."""
    return pa.schema(
        [("clip_id", pa.string()), ("track", pa.string()),
         ("embedding", pa.list_(pa.float32(), int(dim)))]
    )  # fmt: skip


@dataclass(frozen=True)
class BatchColumns:
    """One batch of an ingest as Arrow tables; any of them may be empty."""

    clips: pa.Table
    predictions: pa.Table
    embeddings: pa.Table
    frame_curves: pa.Table
    segments: pa.Table
    outcomes: pa.Table

    @classmethod
    def empty(cls, dim: int) -> BatchColumns:
        """Empty tables of every schema: fill what a batch has with `dataclasses.replace`."""
        return cls(*(s.empty_table() for s in _schemas(dim)))

    @classmethod
    def of(
        cls,
        dim: int,
        clips: Sequence[ClipRecord],
        tracks: Sequence[ScoredTrack],
        outcomes: Sequence[FileOutcome],
        segments: Sequence[SegmentRecord] = (),
    ) -> BatchColumns:
        """The tables for records as an ingest produces them."""
        curves = [t for t in tracks if t.frame_logits is not None]
        return cls(
            clips=_table(CLIPS, clips, lambda c: (
                c.clip_id, c.source_name, c.source_path, c.duration_s, c.source_rate_hz,
                c.channels, c.codec, c.size_bytes, c.agent, c.recorded_at, c.speaker,
                list(c.tags), c.label)),
            predictions=pa.Table.from_arrays(
                [pa.array([t.clip_id for t in tracks], pa.string()),
                 pa.array([t.track for t in tracks], pa.string()),
                 *_matrix_columns([t.scores for t in tracks], N_CLASSES)],
                schema=PREDICTIONS),
            embeddings=pa.Table.from_arrays(
                [pa.array([t.clip_id for t in tracks], pa.string()),
                 pa.array([t.track for t in tracks], pa.string()),
                 fixed_size_lists([t.embedding for t in tracks], dim)],
                schema=embeddings_schema(dim)),
            frame_curves=pa.Table.from_arrays(
                [pa.array([t.clip_id for t in curves], pa.string()),
                 pa.array([t.track for t in curves], pa.string()),
                 pa.array([len(t.frame_logits) for t in curves], pa.int32()),
                 _lists([t.frame_logits for t in curves])],
                schema=FRAME_CURVES),
            segments=_table(SEGMENTS, segments, lambda s: (
                s.clip_id, s.track, s.index, s.start_s, s.end_s,
                np.asarray(s.scores, np.float32))),
            outcomes=_table(OUTCOMES, outcomes, lambda o: (
                o.source_name, o.clip_id, o.status, o.seconds_audio, o.message)),
        )  # fmt: skip


def fixed_size_lists(rows: Sequence[np.ndarray], size: int) -> pa.Array:
    """Equal-length vectors as one Arrow fixed-size list array, copied once from numpy."""
    flat = (
        np.concatenate([np.asarray(r, np.float32).ravel() for r in rows])
        if rows
        else np.zeros(0, np.float32)
    )
    return pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), int(size))


def _lists(rows: Sequence[np.ndarray]) -> pa.Array:
    """Vectors of any length, flattened row-major, as one Arrow list array."""
    flat = [np.asarray(r, np.float32).ravel() for r in rows]
    offsets = np.zeros(len(flat) + 1, np.int32)
    np.cumsum([len(f) for f in flat], out=offsets[1:])
    values = np.concatenate(flat) if flat else np.zeros(0, np.float32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, pa.float32()))


def _matrix_columns(rows: Sequence[np.ndarray], width: int) -> list[pa.Array]:
    matrix = np.asarray(rows, np.float32).reshape(len(rows), width)
    return [pa.array(matrix[:, j]) for j in range(width)]


def _table(schema: pa.Schema, records: Sequence, row) -> pa.Table:
    columns = list(zip(*(row(r) for r in records), strict=True)) or [()] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(list(values), field.type) for values, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _schemas(dim: int) -> tuple[pa.Schema, ...]:
    return CLIPS, PREDICTIONS, embeddings_schema(dim), FRAME_CURVES, SEGMENTS, OUTCOMES
