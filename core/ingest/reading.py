"""The reading stage of an ingest: read each file once, hash it, check the cache, decode.

It runs ahead of the model on worker threads (file reads, SHA-256 and FFmpeg's decoders spend
their time outside the GIL). A file is read once: the bytes that are hashed are the bytes that are
decoded, so a file replaced during a run can never be stored under another version's id. Files too
big to hold (long recordings) are hashed as a stream, and their size and modification time are
compared before and after, so a change mid-read is reported rather than stored.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from core.errors import AudioError
from core.ingest.metadata import Metadata
from core.ingest.sources import InputFile, text_name
from core.model import isolated
from core.model.audio import AudioInfo
from core.model.audio import notes as audio_notes
from core.records import ClipRecord, FileOutcome

# Files up to this size are read into memory once and decoded from those bytes; bigger ones are
# streamed. With the look-ahead queue's length this bounds the reading stage's memory.
HOLD_BYTES = 16 * 1024**2
# Longer recordings are scored in overlapping windows (core.ingest.longform), streamed from the file,
# and stored with per-window segments; shorter ones are decoded whole and batched across files.
LONG_FROM_S = 60.0
CHANNEL_MODES = ("mix", "split")


def clip_id_of(data: bytes) -> str:
    """Content identity of a file: SHA-256 of its bytes (see core.store.database for why bytes)."""
    return hashlib.sha256(data).hexdigest()


def track_names(channels: int, channel_mode: str, roles: tuple[str, ...] = ()) -> list[str]:
    """Names of the tracks a file yields: 'mix', or one per channel (its role, else ch<i>)."""
    if channel_mode == "split" and channels > 1:
        return [roles[i] if i < len(roles) else f"ch{i}" for i in range(channels)]
    return ["mix"]


def tracks_of(
    audio, channel_mode: str, roles: tuple[str, ...] = ()
) -> list[tuple[str, np.ndarray]]:
    """The waveforms to score: the channel mix, or each channel as its own (named) track."""
    names = track_names(audio.samples.shape[0], channel_mode, roles)
    if names == ["mix"]:
        return [("mix", audio.mono)]
    return list(zip(names, audio.samples, strict=True))


@dataclass(frozen=True)
class FileRead:
    """One input after its single read: its id and bytes, or why it could not be read."""

    item: InputFile
    clip_id: str | None = None
    data: bytes | None = None  # the bytes that were hashed, when small enough to hold
    stamp: tuple[int, int] | None = None  # (size, mtime_ns) of a file hashed as a stream
    error: str | None = None

    @property
    def source(self):
        """What to decode: the very bytes that were hashed, else the file (checked by stamp)."""
        return self.data if self.data is not None else self.item.path


def read_file(item: InputFile) -> FileRead:
    """Read and hash one input; failures come back as `error`, never raised."""
    if item.problem:
        return FileRead(item, error=item.problem)
    try:
        if item.data is not None:
            return FileRead(item, clip_id_of(item.data), item.data)
        before = stamp_of(item.path)
        if before[0] <= HOLD_BYTES:
            data = item.path.read_bytes()
            return FileRead(item, clip_id_of(data), data)
        with item.path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if stamp_of(item.path) != before:
            return FileRead(item, error=changed_message(item.name))
        return FileRead(item, digest, stamp=before)
    except OSError as exc:
        return FileRead(item, error=f"{item.name}: cannot read ({exc.strerror or exc}).")


def stamp_of(path: Path) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns


def changed_message(name: str) -> str:
    return f"{name}: the file changed while being read; nothing was stored, ingest it again."


@dataclass(frozen=True)
class ReadOptions:
    """What the reading stage needs to know of the run."""

    channel_mode: str = "mix"
    roles: tuple[str, ...] = ()
    media_dir: Path | None = None


@dataclass
class Unit:
    """One file's share of the work, in input order: its outcome and what is left to score.

    `waves` are decoded tracks for the batched forward pass; `long` is a recording the scorer
    streams through windowed scoring itself (core.ingest.pipeline).
    """

    outcome: FileOutcome
    clip: ClipRecord | None = None
    waves: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # clip, track, wave
    long: LongJob | None = None
    repeat: bool = False  # the same bytes as an earlier input of this run: its outcome follows


@dataclass(frozen=True)
class LongJob:
    """A long recording to be scored in windows: where it is and which tracks it still needs."""

    read: FileRead
    meta: Metadata
    channels: int
    tracks: tuple[tuple[str, int | None], ...]  # (track, channel index or None for the mix)


def decode_unit(read: FileRead, meta: Metadata, cached: set[str], options: ReadOptions) -> Unit:
    """Decode one uncached file (or set up its windowed scoring) into a Unit.

    The decoding runs in a child process (core.model.isolated): a file that crashes FFmpeg
    fails alone, with a message, and the run goes on.
    """
    name, clip_id = read.item.name, read.clip_id
    roles = meta.roles or options.roles
    try:
        header, audio = isolated.read(read.source, name, LONG_FROM_S)
        if audio is None:  # longer than LONG_FROM_S, or of unknown length: streamed
            names = track_names(header.channels, options.channel_mode, roles)
            tracks = [("mix", None)] if names == ["mix"] else [(n, i) for i, n in enumerate(names)]
            job = LongJob(
                read, meta, header.channels, tuple(t for t in tracks if t[0] not in cached)
            )
            return Unit(FileOutcome(name, "scored", clip_id), long=job)
    except AudioError as exc:
        return Unit(FileOutcome(name, "failed", clip_id, message=str(exc)))
    if read.stamp is not None and stamp_of(read.item.path) != read.stamp:  # decoded from disk
        return Unit(FileOutcome(name, "failed", clip_id, message=changed_message(name)))
    waves = [(clip_id, t, w) for t, w in tracks_of(audio, options.channel_mode, roles)
             if t not in cached]  # fmt: skip
    return scored_unit(read, meta, audio.info, options, waves)


def scored_unit(read: FileRead, meta: Metadata, info: AudioInfo, options: ReadOptions,
                waves=()) -> Unit:  # fmt: skip
    """The Unit of a decoded file: its clip row, its outcome with any notes, its waves."""
    item = read.item
    base = ClipRecord(
        clip_id=read.clip_id, source_name=item.name, source_path=None, duration_s=info.duration_s,
        source_rate_hz=info.source_rate_hz, channels=info.channels, codec=info.codec,
        size_bytes=len(read.data) if read.data is not None else read.stamp[0],
    )  # fmt: skip
    notes = [meta.warning, _notes(item.name, info, options.channel_mode)]
    message = " ".join(n for n in notes if n) or None
    outcome = FileOutcome(item.name, "scored", read.clip_id, info.duration_s, message)
    return Unit(outcome, clip_record(base, read, meta, options.media_dir), list(waves))


def cached_unit(read: FileRead, known: ClipRecord, meta: Metadata, options: ReadOptions) -> Unit:
    """A file the model already scored: only its row in this corpus is written."""
    outcome = FileOutcome(read.item.name, "cached", read.clip_id, known.duration_s, meta.warning)
    return Unit(outcome, clip_record(known, read, meta, options.media_dir))


def _notes(name: str, info: AudioInfo, channel_mode: str) -> str | None:
    found = audio_notes(info, name)
    if channel_mode == "mix" and info.channels > 2:
        found.append(f"its {info.channels} channels were averaged into one track "
                     "(split mode scores each channel)")  # fmt: skip
    return f"{name}: {'; '.join(found)}." if found else None


def clip_record(base: ClipRecord, read: FileRead, meta, media_dir: Path | None) -> ClipRecord:
    """The clip as it enters this corpus: audio facts, this file's name, path and metadata.

    Audio held only in memory or in a temporary place (zip members, uploads) and files whose
    path is not UTF-8 are kept as a content-addressed copy under `media_dir` for playback.
    """
    item = read.item
    path = None if item.path is None or item.transient else item.path.resolve()
    if path is not None and text_name(str(path)) != str(path):
        path = None  # a non-UTF-8 path cannot be stored as text: keep a playable copy instead
    if path is None and media_dir is not None:
        media_dir.mkdir(parents=True, exist_ok=True)
        path = media_dir / f"{base.clip_id}{item.suffix}"
        if not path.exists():  # named by content: the same audio is kept once
            if read.data is not None:
                path.write_bytes(read.data)
            else:
                shutil.copyfile(item.path, path)
    return replace(
        base, source_name=item.name, source_path=str(path) if path else base.source_path,
        agent=meta.agent, recorded_at=meta.recorded_at, speaker=meta.speaker, tags=meta.tags,
        label=meta.label,
    )  # fmt: skip
