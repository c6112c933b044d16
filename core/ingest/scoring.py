"""The ingest's steps between reading and writing: planning each read against the cache, scoring
units (long recordings in windows) and settling repeated files; core.ingest.pipeline runs them,
and so do the Ray stages (core.ingest.ray)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from core.errors import EmoScopeError
from core.ingest.longform import score_long
from core.ingest.metadata import Metadata, MetadataFn
from core.ingest.reading import (
    FileRead,
    ReadOptions,
    Unit,
    cached_unit,
    changed_message,
    scored_unit,
    stamp_of,
    track_names,
)
from core.model import isolated
from core.model.engine import Engine, finite_output
from core.records import FileOutcome, ScoredTrack, SegmentRecord
from core.store.columns import BatchColumns

Seen = dict[str, tuple[str, str | None]]  # clip id -> the first (name, label) it came as


def plan_read(read: FileRead, known: dict, cached: set, seen: Seen,
              metadata: MetadataFn, options: ReadOptions) -> Unit | tuple[Metadata, set[str]]:  # fmt: skip
    """A finished Unit for a failed, repeated or cached file; else (metadata, tracks already
    scored) for decode_unit; `seen` is updated. Shared by the local pipeline and the Ray driver (core.ingest.ray.driver)."""
    name = read.item.name
    if read.error:
        return Unit(FileOutcome(name, "failed", message=read.error))
    meta = metadata(name)
    if read.clip_id in seen:  # cached if the first is stored; failed with it (settle_repeats)
        return Unit(FileOutcome(name, "cached", read.clip_id,
                                message=repeat_message(name, meta, *seen[read.clip_id])),
                    repeat=True)  # fmt: skip
    seen[read.clip_id] = (name, meta.label)
    done = {t for c, t in cached if c == read.clip_id}
    stored = known.get(read.clip_id)
    roles = meta.roles or options.roles
    if stored and set(track_names(stored.channels, options.channel_mode, roles)) <= done:
        return cached_unit(read, stored, meta, options)
    return meta, done


def repeat_message(name: str, meta: Metadata, first: str, first_label: str | None) -> str:
    """What a file whose bytes this run already took in under another name is told."""
    if meta.label == first_label:
        return f"{name}: same audio as {first}; stored once."
    return (f"{name}: same audio as {first}; stored once, labelled {first_label!r} as {first} is, "
            f"so its own label {meta.label!r} is not used.")  # fmt: skip


def finish_long(engine: Engine, unit: Unit, frames: bool, options: ReadOptions
                ) -> tuple[Unit, list[ScoredTrack], list[SegmentRecord]]:  # fmt: skip
    """Score a long recording in windows, streaming it: its Unit, scored tracks and segments."""
    job = unit.long
    stream = isolated.stream(job.read.source, job.read.item.name)  # a decoder crash fails one file
    scored, segments = [], []
    try:
        for track, channel in job.tracks:
            chunks = (c.mean(axis=0) if channel is None else c[channel] for c in stream)
            result = score_long(engine, chunks)
            scored.append(ScoredTrack(unit.outcome.clip_id, track, result.scores,
                                      result.embedding,
                                      result.frame_logits if frames else None))  # fmt: skip
            segments += [SegmentRecord(unit.outcome.clip_id, track, s.index, s.start_s,
                                       s.end_s, s.scores) for s in result.segments]  # fmt: skip
        if stream.info is None:  # every track was cached: read through once for the facts
            for _ in stream:
                pass
    except EmoScopeError as exc:
        return Unit(replace(unit.outcome, status="failed", message=str(exc))), [], []
    if job.read.stamp is not None and stamp_of(job.read.item.path) != job.read.stamp:
        return Unit(replace(unit.outcome, status="failed",
                            message=changed_message(job.read.item.name))), [], []  # fmt: skip
    return scored_unit(job.read, job.meta, stream.info, options), scored, segments


def score_units(engine: Engine, units: list[Unit], scored: Sequence[ScoredTrack],
                segments: Sequence[SegmentRecord], frames: bool,
                failed: dict[str, FileOutcome] | None = None,
                ) -> tuple[list[FileOutcome], BatchColumns]:  # fmt: skip
    """Run the model on the units' decoded waves; with the long recordings' tracks already
    `scored`, the batch's outcomes and Arrow tables.

    A file whose model output is not finite fails, with nothing of it stored. With `failed`
    (the run's failed files by clip id, kept across batches), repeats of a failed file fail too.
    """
    waves = [w for u in units for w in u.waves]
    predictions = engine.predict([w for _, _, w in waves], frames=frames)
    tracks = list(scored) + [
        ScoredTrack(clip_id, track, p.scores, p.embedding, p.frame_logits)
        for (clip_id, track, _), p in zip(waves, predictions, strict=True)
    ]
    bad = {t.clip_id for t in tracks if not finite_output(t.scores, t.embedding, t.frame_logits)}
    bad |= {s.clip_id for s in segments if not np.isfinite(s.scores).all()}
    if bad:
        units = [_not_finite(u) if u.outcome.clip_id in bad and not u.repeat else u for u in units]
        tracks = [t for t in tracks if t.clip_id not in bad]
        segments = [s for s in segments if s.clip_id not in bad]
    if failed is not None:
        units = settle_repeats(units, failed)
    clips = [u.clip for u in units if u.clip is not None]
    outcomes = [u.outcome for u in units]
    dim = engine.embedding_dim
    return outcomes, BatchColumns.of(dim, clips, tracks, outcomes, segments)


def _not_finite(unit: Unit) -> Unit:
    name = unit.outcome.source_name
    message = (f"{name}: the model's output for this audio is not a finite number (NaN or "
               "infinity); nothing was stored. Check its levels and re-export it.")  # fmt: skip
    return Unit(replace(unit.outcome, status="failed", message=message))


def settle_repeats(units: Sequence[Unit], failed: dict[str, FileOutcome]) -> list[Unit]:
    """Units in input order, a repeat of a failed file failed with it: one outcome per input,
    and no run-log row claiming a clip that was never stored. `failed` (clip id -> the first
    failed outcome) is updated with this batch's failures, for the batches that follow."""
    settled = []
    for unit in units:
        outcome = unit.outcome
        if unit.repeat and outcome.clip_id in failed:
            unit = Unit(repeat_failed(outcome.source_name, failed[outcome.clip_id]), repeat=True)
        elif outcome.status == "failed" and outcome.clip_id and outcome.clip_id not in failed:
            failed[outcome.clip_id] = outcome
        settled.append(unit)
    return settled


def repeat_failed(name: str, first: FileOutcome) -> FileOutcome:
    """The outcome of an input whose bytes an earlier input of the run came with, and failed."""
    reason = (first.message or "it could not be read").removeprefix(f"{first.source_name}: ")
    message = f"{name}: same audio as {first.source_name}, which could not be stored: {reason}"
    return FileOutcome(name, "failed", first.clip_id, message=message)
