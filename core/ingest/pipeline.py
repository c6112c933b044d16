"""Ingest files into a corpus: a pipeline that keeps the model busy.

Three stages run at once, joined by bounded queues, so memory stays bounded for any corpus:
  readers  a thread reads each file once, hashes it and checks the cache (one query per chunk
           of files, no decoding for files already scored); `workers` threads decode the rest
           from the bytes that were hashed (core.ingest.reading);
  scorer   the calling thread gathers decoded clips into batches and runs the model on them;
  writer   one thread turns the previous batch into Arrow tables and commits it (core.store.columns).

Each batch is one transaction, so an interrupted run keeps every finished batch and a rerun picks
up the rest (finished clips are then cache hits). One bad file is recorded with its reason and
never stops the others. Outcomes, progress and messages come in input order, and progress is
reported from the calling thread (the upload page updates its bar from it).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from core.errors import EmoScopeError
from core.ingest.metadata import Manifest, MetadataFn, no_metadata
from core.ingest.reading import (
    CHANNEL_MODES,
    LONG_FROM_S,
    FileRead,
    ReadOptions,
    Unit,
    clip_id_of,
    decode_unit,
    read_file,
    track_names,
    tracks_of,
)
from core.ingest.scoring import Seen, finish_long, plan_read, score_units
from core.ingest.sources import InputFile
from core.model import isolated
from core.model.engine import Engine
from core.records import FileOutcome, ScoredTrack, SegmentRecord
from core.store.batches import cache_state, write_columns
from core.store.claims import claim_tracks, held_tracks
from core.store.columns import BatchColumns
from core.store.database import Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import register_model

__all__ = [
    "CHANNEL_MODES", "LONG_FROM_S", "IngestSummary", "clip_id_of", "default_workers",
    "ingest", "parse_roles", "track_names", "tracks_of",
]  # fmt: skip

# A batch is scored and written once it holds this much audio or this many files. On a GPU the
# engine packs a batch into padded forwards of up to 8 minutes, sorted by length, so the batch is
# the look-ahead window that makes those forwards dense; a crash loses at most one batch.
BATCH_AUDIO_S = 600.0
BATCH_FILES = 256
# Files read and hashed per cache query (opening the database costs ~40 ms, so few queries),
# and files decoded ahead of the model.
CHUNK_FILES = 256
LOOKAHEAD_FILES = 128
# First pause while another ingest scores tracks this one also needs (doubling up to 2 s).
CLAIM_POLL_S = 0.1

ProgressFn = Callable[[int, int, float], None]  # (files done, files total, seconds of audio)


def default_workers() -> int:
    """Decoding threads: one core is left to the model and the writer.

    Threads, not processes: decoding is GIL-bound Python around FFmpeg, so a second decoding
    thread on 2 cores ran slower than one (RAVDESS, 1,440 FLAC: 1 thread 2.6-3.7 s, 2 threads
    4.4-5.1 s; 2 processes 3.0-3.1 s, which also pays for pickling every decoded clip).
    """
    return max(1, (os.cpu_count() or 1) - 1)


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

    def counted(self, outcomes: Sequence[FileOutcome]) -> IngestSummary:
        """This summary with one more written batch's outcomes added."""
        counts = {s: sum(o.status == s for o in outcomes) for s in ("scored", "cached", "failed")}
        return replace(
            self,
            scored=self.scored + counts["scored"],
            cached=self.cached + counts["cached"],
            failed=self.failed + counts["failed"],
            seconds_audio=self.seconds_audio
            + sum(o.seconds_audio for o in outcomes if o.status != "failed"),
            outcomes=self.outcomes + tuple(outcomes),
        )


def parse_roles(text: str | None) -> tuple[str, ...]:
    """'agent, customer' -> ('agent', 'customer'): channel roles in channel order."""
    roles = tuple(r.strip().lower() for r in (text or "").replace("|", ",").split(",") if r.strip())
    if len(set(roles)) != len(roles) or "mix" in roles:
        raise EmoScopeError(f"channel roles {text!r}: give distinct names other than 'mix'.")
    return roles


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
    workers: int | None = None,
    user_name: str | None = None,
) -> IngestSummary:
    """Score `inputs` into `corpus`; per-file failures are recorded, not raised.

    Files held only in memory (zip members, uploads) are saved under `media_dir`, so that the
    dashboard can play them back. With `channel_mode="split"`, `channel_roles` names the tracks
    in channel order (e.g. agent, customer); a manifest's `roles` column overrides it per file.
    `workers` decoding threads (default: cores - 1, at least 1) run ahead of the model.
    The run is recorded for `user_name` (the signed-in user), else `cli:<os user>`.
    """
    if channel_mode not in CHANNEL_MODES:
        raise EmoScopeError(f"channel mode {channel_mode!r}: choose {' or '.join(CHANNEL_MODES)}.")
    if workers is not None and workers < 1:
        raise EmoScopeError(f"--workers {workers}: give at least 1.")
    register_model(store, engine.model_key, engine.model_id, engine.revision,
                         engine.embedding_dim, engine.untrained)  # fmt: skip
    run_id = start_run(store, corpus, engine.model_key, len(inputs), user_name)
    notes = metadata.check(i.name for i in inputs) if isinstance(metadata, Manifest) else []
    run = _Run(store, engine, run_id, corpus, frames, metadata,
               ReadOptions(channel_mode, tuple(channel_roles), media_dir))  # fmt: skip
    summary = IngestSummary(run_id, corpus, engine.model_key, notes=tuple(notes))
    status = "interrupted"
    try:
        summary = run.execute(inputs, summary, workers or default_workers(), on_progress)
        status = "done"
    finally:
        finish_run(store, run_id, status)
        isolated.close_idle()  # no decoder process outlives the run
    return summary


@dataclass
class _Batch:
    """A batch being assembled from Units, in input order."""

    units: list[Unit] = field(default_factory=list)
    scored: list[ScoredTrack] = field(default_factory=list)  # long recordings, scored in windows
    segments: list[SegmentRecord] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, unit: Unit) -> None:
        self.units.append(unit)
        if unit.outcome.status == "scored":
            self.seconds += unit.outcome.seconds_audio

    def full(self) -> bool:
        return self.seconds >= BATCH_AUDIO_S or len(self.units) >= BATCH_FILES


@dataclass(frozen=True)
class _Run:
    """One ingest run's fixed parts, shared by its stages."""

    store: Store
    engine: Engine
    run_id: int
    corpus: str
    frames: bool
    metadata: MetadataFn
    options: ReadOptions
    failed: dict[str, FileOutcome] = field(default_factory=dict)  # clip id -> first failure

    def execute(self, inputs: Sequence[InputFile], summary: IngestSummary, workers: int,
                on_progress: ProgressFn | None) -> IngestSummary:  # fmt: skip
        """Run the three stages; return the summary once every batch is committed."""
        stop = threading.Event()
        ahead: queue.Queue = queue.Queue(maxsize=LOOKAHEAD_FILES)
        with ThreadPoolExecutor(workers, "emoscope-read") as readers, \
                ThreadPoolExecutor(1, "emoscope-write") as writer:  # fmt: skip
            producer = threading.Thread(
                target=self._read_ahead, args=(inputs, readers, ahead, stop), daemon=True
            )
            producer.start()
            writing: Future | None = None
            batch, done, audio_s = _Batch(), 0, 0.0
            try:
                for unit in _in_order(ahead):
                    unit = self._finish_long(unit, batch) if unit.long else unit
                    batch.add(unit)
                    done += 1
                    if unit.outcome.status != "failed":  # the audio taken in, scored or cached
                        audio_s += unit.outcome.seconds_audio
                    if on_progress:
                        on_progress(done, len(inputs), audio_s)
                    if batch.full() or done == len(inputs):
                        summary = _committed(writing, summary)
                        writing = writer.submit(self._write, self._score(batch))
                        batch = _Batch()
                summary = _committed(writing, summary)
            finally:
                stop.set()
                _drain(ahead)
                readers.shutdown(cancel_futures=True)
                producer.join()
        return summary

    # -- readers -------------------------------------------------------------------------------

    def _read_ahead(self, inputs, readers: ThreadPoolExecutor, ahead: queue.Queue, stop) -> None:
        """Producer thread: read and hash chunk by chunk, query the cache, queue decodes."""
        seen: Seen = {}
        try:
            for start in range(0, len(inputs), CHUNK_FILES):
                # Read here, not in the pool: the pool's threads stay on decoding meanwhile.
                reads = [read_file(item) for item in inputs[start : start + CHUNK_FILES]]
                ids = [r.clip_id for r in reads if r.clip_id]
                known, cached = cache_state(self.store, self.engine.model_key, ids, self.frames)
                for read in reads:
                    if not _put(ahead, self._plan(read, known, cached, seen, readers), stop):
                        return
            _put(ahead, _END, stop)
        except BaseException as exc:  # handed to the scorer, which raises it in the caller
            _put(ahead, _Failed(exc), stop)

    def _plan(self, read: FileRead, known, cached, seen: Seen, readers):
        """A finished Unit for failed, repeated and cached files; else a decode in the pool."""
        planned = plan_read(read, known, cached, seen, self.metadata, self.options)
        if isinstance(planned, Unit):
            return planned
        return readers.submit(decode_unit, read, *planned, self.options)

    # -- scorer --------------------------------------------------------------------------------

    def _finish_long(self, unit: Unit, batch: _Batch) -> Unit:
        """Score a long recording in windows, streaming it; its tracks join the batch scored."""
        unit, scored, segments = finish_long(self.engine, unit, self.frames, self.options)
        batch.scored += scored
        batch.segments += segments
        return unit

    def _score(self, batch: _Batch) -> tuple[list[Unit], BatchColumns]:
        """Run the model on the batch's decoded clips; the batch as Arrow tables."""
        units = self._recheck(batch.units)
        return score_units(self.engine, units, batch.scored, batch.segments, self.frames,
                           self.failed)  # fmt: skip

    def _recheck(self, units: list[Unit]) -> list[Unit]:
        """Claim the batch's tracks; drop those another ingest stored since the cache check.

        Tracks another live ingest is scoring are waited for rather than scored twice
        (core.store.claims), so concurrent ingests of the same files run the model once per file.
        """
        tracks = [(c, t) for u in units for c, t, _ in u.waves]
        if not tracks:
            return units
        claim = claim_tracks(self.store, self.run_id, self.engine.model_key, tracks, self.frames)
        done = set(claim.done)
        if claim.held:
            done |= self._wait_for(sorted(claim.held))
        checked = []
        for unit in units:
            waves = [w for w in unit.waves if (w[0], w[1]) not in done]
            if unit.waves and not waves:
                note = (
                    f"{unit.outcome.source_name}: scored meanwhile by another ingest; stored once."
                )
                unit = replace(unit, outcome=replace(unit.outcome, status="cached", message=note))
            checked.append(replace(unit, waves=waves))
        return checked

    def _wait_for(self, held: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Wait until no other live run holds these tracks; return those it stored.

        Tracks whose claim lapsed unstored (that run failed or was killed) are claimed here.
        """
        delay = CLAIM_POLL_S
        while held_tracks(self.store, self.run_id, self.engine.model_key, held):
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        claim = claim_tracks(self.store, self.run_id, self.engine.model_key, held, self.frames)
        if claim.held:  # claimed again by a third run meanwhile
            return set(claim.done) | self._wait_for(sorted(claim.held))
        return set(claim.done)

    # -- writer --------------------------------------------------------------------------------

    def _write(self, scored: tuple[list[FileOutcome], BatchColumns]) -> list[FileOutcome]:
        outcomes, columns = scored
        write_columns(self.store, self.run_id, self.corpus, self.engine.model_key,
                                 self.engine.embedding_dim, columns)  # fmt: skip
        return outcomes


_END = object()


@dataclass(frozen=True)
class _Failed:
    """The producer's exception, carried through the queue to the calling thread."""

    error: BaseException


def _in_order(ahead: queue.Queue) -> Iterator[Unit]:
    """Units in input order: finished ones as they are, decodes once their future resolves."""
    while (entry := ahead.get()) is not _END:
        if isinstance(entry, _Failed):
            raise entry.error
        yield entry.result() if isinstance(entry, Future) else entry


def _committed(writing: Future | None, summary: IngestSummary) -> IngestSummary:
    """Wait for the batch being written, then count its outcomes in."""
    return summary if writing is None else summary.counted(writing.result())


def _put(ahead: queue.Queue, entry, stop: threading.Event) -> bool:
    """Queue an entry, waiting for room unless the scorer has stopped; False once stopped."""
    while not stop.is_set():
        try:
            ahead.put(entry, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def _drain(ahead: queue.Queue) -> None:
    """Empty the look-ahead queue so a producer blocked on it can see `stop` and exit."""
    while True:
        try:
            ahead.get_nowait()
        except queue.Empty:
            return
