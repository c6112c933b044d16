"""Ingest files into a corpus: hash, skip what the model already scored, decode, score, store.

Work goes in batches; each batch is written in one transaction, so an interrupted run keeps
every finished batch and a rerun picks up the rest (finished clips are then cache hits). One bad
file is recorded with its reason and never stops the others.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core.audio import AudioStream, DecodedAudio, decode, probe
from core.audio import notes as audio_notes
from core.errors import AudioError, EmoScopeError
from core.longform import score_long
from core.metadata import Manifest, MetadataFn, no_metadata
from core.model import Engine
from core.sources import InputFile, text_name
from core.store import ClipRecord, FileOutcome, ScoredTrack, SegmentRecord, Store

CHANNEL_MODES = ("mix", "split")
# A batch is written once it holds this much audio or this many files: bounded memory, and a
# crash loses at most one batch of work.
BATCH_AUDIO_S = 300.0
BATCH_FILES = 32
# Longer recordings are scored in overlapping windows (core.longform), streamed from the file,
# and stored with per-window segments; shorter ones are scored whole, batched across files.
LONG_FROM_S = 60.0

ProgressFn = Callable[[int, int, float], None]  # (files done, files total, seconds of audio)


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest run did."""

    run_id: int
    corpus: str
    model_key: str
    scored: int = 0
    cached: int = 0
    failed: int = 0
    seconds_audio: float = 0.0
    outcomes: tuple[FileOutcome, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()  # about the run as a whole, e.g. manifest rows matching no file

    def log_lines(self) -> list[str]:
        """A processing log, one line per file, like the old web UI's, after the run's notes."""
        marks = {"scored": "✔ scored", "cached": "↺ cached", "failed": "✖ failed"}
        return [f"⚠ note    {n}" for n in self.notes] + [f"{marks[o.status]:<9} {o.source_name}"
                + (f" ({o.seconds_audio:.2f} s)" if o.seconds_audio else "")
                + (f" — {o.message}" if o.message else "") for o in self.outcomes]  # fmt: skip

    def as_dict(self) -> dict:
        return {"scored": self.scored, "cached": self.cached, "failed": self.failed,
                "seconds_audio": round(self.seconds_audio, 3)}  # fmt: skip


def clip_id_of(data: bytes) -> str:
    """Content identity of a file: SHA-256 of its bytes (see core.store for why bytes)."""
    return hashlib.sha256(data).hexdigest()


def track_names(channels: int, channel_mode: str, roles: tuple[str, ...] = ()) -> list[str]:
    """Names of the tracks a file yields: 'mix', or one per channel (its role, else ch<i>)."""
    if channel_mode == "split" and channels > 1:
        return [roles[i] if i < len(roles) else f"ch{i}" for i in range(channels)]
    return ["mix"]


def parse_roles(text: str | None) -> tuple[str, ...]:
    """'agent, customer' -> ('agent', 'customer'): channel roles in channel order."""
    roles = tuple(r.strip().lower() for r in (text or "").replace("|", ",").split(",") if r.strip())
    if len(set(roles)) != len(roles) or "mix" in roles:
        raise EmoScopeError(f"channel roles {text!r}: give distinct names other than 'mix'.")
    return roles


def tracks_of(
    audio: DecodedAudio, channel_mode: str, roles: tuple[str, ...] = ()
) -> list[tuple[str, np.ndarray]]:
    """The waveforms to score: the channel mix, or each channel as its own (named) track."""
    names = track_names(audio.samples.shape[0], channel_mode, roles)
    if names == ["mix"]:
        return [("mix", audio.mono)]
    return list(zip(names, audio.samples, strict=True))


@dataclass
class _Pending:
    """A batch being assembled: clips to store, waveforms to score, outcomes to record."""

    clips: list[ClipRecord] = field(default_factory=list)
    waves: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # clip, track, wave
    outcomes: list[FileOutcome] = field(default_factory=list)
    scored: list[ScoredTrack] = field(default_factory=list)  # long recordings, scored in windows
    segments: list[SegmentRecord] = field(default_factory=list)
    seconds: float = 0.0


def ingest(
    store: Store,
    engine: Engine,
    inputs: Sequence[InputFile],
    corpus: str,
    *,
    metadata: MetadataFn = no_metadata,
    frames: bool = False,
    channel_mode: str = "mix",
    media_dir: Path | None = None,
    channel_roles: tuple[str, ...] = (),
    on_progress: ProgressFn | None = None,
) -> IngestSummary:
    """Score `inputs` into `corpus`; per-file failures are recorded, not raised.

    Files held only in memory (zip members, uploads) are saved under `media_dir`, so that the
    dashboard can play them back. With `channel_mode="split"`, `channel_roles` names the tracks
    in channel order (e.g. agent, customer); a manifest's `roles` column overrides it per file.
    """
    if channel_mode not in CHANNEL_MODES:
        raise EmoScopeError(f"channel mode {channel_mode!r}: choose {' or '.join(CHANNEL_MODES)}.")
    store.register_model(engine.model_key, engine.model_id, engine.revision,
                         engine.embedding_dim, engine.untrained)  # fmt: skip
    run_id = store.start_run(corpus, engine.model_key, len(inputs))
    notes = metadata.check(i.name for i in inputs) if isinstance(metadata, Manifest) else []
    summary = IngestSummary(run_id, corpus, engine.model_key, notes=tuple(notes))
    options = _Options(engine, metadata, frames, channel_mode, media_dir, tuple(channel_roles))
    seen: dict[str, str] = {}
    pending = _Pending()
    done = 0
    status = "interrupted"
    try:
        for start in range(0, len(inputs), BATCH_FILES):
            chunk = inputs[start : start + BATCH_FILES]
            lookup = _CacheLookup.of(store, engine.model_key, chunk, frames)
            for item, clip_id in zip(chunk, lookup.ids, strict=True):
                outcome = _prepare(item, clip_id, lookup, pending, seen, options)
                pending.outcomes.append(outcome)
                done += 1
                if pending.seconds >= BATCH_AUDIO_S or len(pending.outcomes) >= BATCH_FILES:
                    summary = _flush(store, run_id, corpus, pending, options, summary)
                    pending = _Pending()
                if on_progress:
                    on_progress(done, len(inputs), summary.seconds_audio + pending.seconds)
        summary = _flush(store, run_id, corpus, pending, options, summary)
        status = "done"
    finally:
        store.finish_run(run_id, status)
    return summary


@dataclass(frozen=True)
class _CacheLookup:
    """Clip ids (in chunk order) and what the store already holds, for one chunk of inputs."""

    ids: list[str | OSError | None]  # None: the input was refused before reading
    known: dict[str, ClipRecord]
    cached: set[tuple[str, str]]

    @classmethod
    def of(cls, store: Store, model_key: str, chunk: Sequence[InputFile], frames: bool):
        ids: list[str | OSError | None] = []
        for item in chunk:
            try:
                ids.append(None if item.problem else _hash(item))
            except OSError as exc:
                ids.append(exc)
        found = [i for i in ids if isinstance(i, str)]
        # One query per chunk, not per file: each query opens the database file.
        return cls(ids, store.known_clips(found), store.cached_tracks(model_key, found, frames))


def _hash(item: InputFile) -> str:
    """The clip id, streaming files on disk so an hour-long recording is never held whole."""
    if item.data is not None:
        return clip_id_of(item.data)
    with item.path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class _Options:
    engine: Engine
    metadata: MetadataFn
    frames: bool
    channel_mode: str
    media_dir: Path | None
    roles: tuple[str, ...]


def _prepare(item: InputFile, clip_id, lookup: _CacheLookup, pending: _Pending,
             seen: dict[str, str], options: _Options) -> FileOutcome:  # fmt: skip
    """Cache-check and decode (or, for long recordings, score) one file into the pending batch."""
    if item.problem or clip_id is None:
        return FileOutcome(item.name, "failed", message=item.problem)
    if isinstance(clip_id, OSError):
        return FileOutcome(
            item.name, "failed", message=f"{item.name}: cannot read ({clip_id.strerror})."
        )
    meta = options.metadata(item.name)
    if clip_id in seen:
        return FileOutcome(item.name, "cached", clip_id,
                           message=f"{item.name}: same audio as {seen[clip_id]}; stored once.")  # fmt: skip
    seen[clip_id] = item.name
    known = lookup.known.get(clip_id)
    cached = {t for c, t in lookup.cached if c == clip_id}
    roles = meta.roles or options.roles
    if (
        known is not None
        and set(track_names(known.channels, options.channel_mode, roles)) <= cached
    ):
        pending.clips.append(_record(known, item, meta, options.media_dir))
        return FileOutcome(item.name, "cached", clip_id, known.duration_s, meta.warning)
    source = item.data if item.data is not None else item.path
    try:
        header = probe(source, item.name)
        if not header.duration_s <= LONG_FROM_S:  # NaN (unknown length) streams too
            audio_info = _score_long(
                item.name, source, header.channels, roles, clip_id, cached, pending, options
            )
        else:
            audio = decode(source, item.name)
            audio_info = audio.info
            for track, wave in tracks_of(audio, options.channel_mode, roles):
                if track not in cached:
                    pending.waves.append((clip_id, track, wave))
    except AudioError as exc:
        return FileOutcome(item.name, "failed", clip_id, message=str(exc))
    base = ClipRecord(
        clip_id=clip_id, source_name=item.name, source_path=None, duration_s=audio_info.duration_s,
        source_rate_hz=audio_info.source_rate_hz, channels=audio_info.channels,
        codec=audio_info.codec, size_bytes=_size(item),
    )  # fmt: skip
    pending.clips.append(_record(base, item, meta, options.media_dir))
    pending.seconds += audio_info.duration_s
    message = (
        " ".join(filter(None, [meta.warning, _notes(item.name, audio_info, options.channel_mode)]))
        or None
    )
    return FileOutcome(item.name, "scored", clip_id, audio_info.duration_s, message)


def _notes(name: str, info, channel_mode: str) -> str | None:
    found = audio_notes(info, name)
    if channel_mode == "mix" and info.channels > 2:
        found.append(f"its {info.channels} channels were averaged into one track "
                     "(split mode scores each channel)")  # fmt: skip
    return f"{name}: {'; '.join(found)}." if found else None


def _score_long(
    name, source, channels: int, roles, clip_id, cached, pending: _Pending, options: _Options
):
    """Score a long recording in windows, streaming; its tracks join the batch already scored."""
    stream = AudioStream(source, name)
    names = track_names(channels, options.channel_mode, roles)
    tracks = [("mix", None)] if names == ["mix"] else [(n, i) for i, n in enumerate(names)]
    for track, channel in tracks:
        if track in cached:
            continue
        chunks = (c.mean(axis=0) if channel is None else c[channel] for c in stream)
        result = score_long(options.engine, chunks)
        pending.scored.append(ScoredTrack(clip_id, track, result.scores, result.embedding,
                                          result.frame_logits if options.frames else None))  # fmt: skip
        pending.segments.extend(
            SegmentRecord(clip_id, track, s.index, s.start_s, s.end_s, s.scores)
            for s in result.segments
        )
    if stream.info is None:  # every track was cached: read through once for the facts
        for _ in stream:
            pass
    return stream.info


def _size(item: InputFile) -> int:
    return len(item.data) if item.data is not None else item.path.stat().st_size


def _record(base: ClipRecord, item: InputFile, meta, media_dir: Path | None) -> ClipRecord:
    """The clip as it enters this corpus: audio facts, this file's name, path and metadata."""
    path = item.path.resolve() if item.path is not None else None
    if path is not None and text_name(str(path)) != str(path):
        path = None  # a non-UTF-8 path cannot be stored as text: keep a playable copy instead
    if path is None and media_dir is not None:
        media_dir.mkdir(parents=True, exist_ok=True)
        path = media_dir / f"{base.clip_id}{item.suffix}"
        if not path.exists():  # named by content: the same audio is kept once
            if item.path is not None:
                shutil.copyfile(item.path, path)
            else:
                path.write_bytes(item.data)
    return replace(
        base, source_name=item.name, source_path=str(path) if path else base.source_path,
        agent=meta.agent, recorded_at=meta.recorded_at, speaker=meta.speaker, tags=meta.tags,
    )  # fmt: skip


def _flush(store: Store, run_id: int, corpus: str, pending: _Pending, options: _Options,
           summary: IngestSummary) -> IngestSummary:  # fmt: skip
    """Score the batch's short clips in one call and write the whole batch in one transaction."""
    if not pending.outcomes:
        return summary
    engine = options.engine
    outcomes = list(pending.outcomes)
    tracks = list(pending.scored)
    predictions = engine.predict([w for _, _, w in pending.waves], frames=options.frames)
    for (clip_id, track, _), p in zip(pending.waves, predictions, strict=True):
        tracks.append(ScoredTrack(clip_id, track, p.scores, p.embedding, p.frame_logits))
    store.write_batch(run_id, corpus, engine.model_key, engine.embedding_dim, pending.clips, tracks,
                      outcomes, pending.segments)  # fmt: skip
    counts = {s: sum(o.status == s for o in outcomes) for s in ("scored", "cached", "failed")}
    return replace(
        summary,
        scored=summary.scored + counts["scored"],
        cached=summary.cached + counts["cached"],
        failed=summary.failed + counts["failed"],
        seconds_audio=summary.seconds_audio
        + sum(o.seconds_audio for o in outcomes if o.status != "failed"),
        outcomes=summary.outcomes + tuple(outcomes),
    )
