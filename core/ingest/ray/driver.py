"""`ingest --ray`: the same ingest as core.ingest.pipeline, as a Ray Data pipeline over a cluster.

  driver   lists the inputs, reads and hashes each file and looks it up in the cache, exactly
           as the local path does (core.ingest.scoring.plan_read); failed, repeated and cached files
           are settled here and never reach the cluster;
  tasks    read each remaining file again from shared storage, check its hash, decode it
           (core.ingest.ray.stages.decode_batch, CPU);
  actors   an actor pool holding the Engine (one GPU each when the cluster has GPUs) scores
           batches of files of similar size and writes each batch as a Parquet shard;
  driver   commits every shard as it arrives, one transaction a shard, and marks it committed.

Why the driver hashes: the cache lives in the database, and only the driver opens it (DuckDB
allows one writing process). Hashing is one sequential read per file, cheap next to decoding
and scoring, and it keeps cached files off the cluster entirely; the alternative, shipping the
model's whole cache set to every read task, grows with the database rather than the run.

A run that stops part-way (a worker killed beyond Ray's retries, the driver interrupted) keeps
every committed shard; a rerun first commits the complete shards an earlier run left in the
staging folder, then scores only what is still missing. Each file of a run is committed once
(tracked by input position); the stored rows are idempotent anyway (core.store.batches.write_columns).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import pickle
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.errors import EmoScopeError, InputError
from core.ingest.metadata import Manifest, MetadataFn
from core.ingest.pipeline import (
    CHANNEL_MODES,
    IngestSummary,
    ProgressFn,
    ingest,
)
from core.ingest.ray.cluster import Cluster, RayOptions, check_reachable, cluster_error, require_ray
from core.ingest.ray.stages import ModelRef, Scorer, Work, decode_batch
from core.ingest.ray.staging import (
    COMMITTED,
    RUN_FILE,
    RunSink,
    collected_for_ray,
    outcomes_of,
    read_shard,
    resume_leftovers,
    staging_root,
)
from core.ingest.reading import ReadOptions, Unit, clip_record, read_file
from core.ingest.scoring import Seen, plan_read, settle_repeats
from core.ingest.sources import InputFile
from core.model.engine import Engine
from core.records import ClipRecord, FileOutcome
from core.store.batches import cache_state
from core.store.columns import BatchColumns
from core.store.database import Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import register_model

CHUNK_FILES = 256  # files hashed per cache query, as in core.ingest.pipeline
DECODE_MEMORY_BYTES = 512 * 1024**2


def ray_ingest(
    store: Store,
    engine: Engine,
    inputs: Sequence[InputFile],
    corpus: str,
    *,
    options: RayOptions = RayOptions(),
    **settings,
) -> IngestSummary:
    """core.ingest.pipeline.ingest on a Ray cluster: the same rows, outcomes and summary.

    `settings` are the local ingest's keywords (metadata, frames, channel_mode, media_dir,
    channel_roles, on_progress, workers), bound by its own signature so that the two paths
    take the same options with the same defaults. `workers` caps the decoding tasks running
    at once (default: as many as Ray schedules).
    """
    bound = inspect.signature(ingest).bind(store, engine, inputs, corpus, **settings)
    bound.apply_defaults()
    given = bound.arguments
    _check(given["channel_mode"], given["workers"], options)
    workers = given["workers"]
    root = staging_root(store.path, options.staging)
    cluster = Cluster(options.address)
    try:
        if options.address or cluster.connected:  # a cluster: paths it cannot read fail first
            check_reachable(cluster.ray(), inputs, root)
        register_model(store, engine.model_key, engine.model_id, engine.revision,
                             engine.embedding_dim, engine.untrained)  # fmt: skip
        run_id = start_run(store, corpus, engine.model_key, len(inputs))
        resume_leftovers(store, root)  # after start_run, which marks dead runs 'interrupted'
        read_options = ReadOptions(given["channel_mode"], tuple(given["channel_roles"]),
                                   given["media_dir"])  # fmt: skip
        sink = RunSink(str(store.path), run_id, corpus, engine.model_key, engine.embedding_dim)
        run = _RayRun(store, sink, engine, given["metadata"], given["frames"], read_options,
                      options, root / f"run-{run_id}")  # fmt: skip
        status = "interrupted"
        try:
            outcomes = run.execute(cluster, inputs, workers, given["on_progress"])
            status = "done"
        finally:
            finish_run(store, run_id, status)
        shutil.rmtree(run.run_dir, ignore_errors=True)  # every shard is in the database
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty: other runs' shards stay
    finally:
        cluster.close()
    notes = run.metadata.check(i.name for i in inputs) if isinstance(run.metadata, Manifest) else []
    return IngestSummary(run_id, corpus, engine.model_key, notes=tuple(notes)).counted(outcomes)


def _check(channel_mode: str, workers: int | None, options: RayOptions) -> None:
    """Refuse bad options before anything is opened or started."""
    if channel_mode not in CHANNEL_MODES:
        raise EmoScopeError(f"channel mode {channel_mode!r}: choose {' or '.join(CHANNEL_MODES)}.")
    counts = {"--workers": 1 if workers is None else workers,
              "files per shard": options.files_per_shard}  # fmt: skip
    for name, value in counts.items():
        if value < 1:
            raise EmoScopeError(f"{name} {value}: give at least 1.")


@dataclass
class _Progress:
    """Outcomes committed so far, by input position, and the audio they took in."""

    total: int
    on_progress: ProgressFn | None
    outcomes: dict[int, FileOutcome] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, positions: Sequence[int], outcomes: Sequence[FileOutcome]) -> None:
        for position, outcome in zip(positions, outcomes, strict=True):
            self.outcomes[position] = outcome
            if outcome.status != "failed":
                self.seconds += outcome.seconds_audio
        if self.on_progress:
            self.on_progress(len(self.outcomes), self.total, self.seconds)

    def in_order(self) -> list[FileOutcome]:
        return [self.outcomes[p] for p in sorted(self.outcomes)]


@dataclass(frozen=True)
class _RayRun:
    """One run's fixed parts: what the driver plans, sends and commits."""

    store: Store
    sink: RunSink
    engine: Engine
    metadata: MetadataFn
    frames: bool
    options: ReadOptions
    ray_options: RayOptions
    run_dir: Path
    copies: dict[int, Path] = field(default_factory=dict)  # media copies made by _work
    # Repeats of files sent to the cluster: settled once their first's outcome is committed.
    repeats: list[tuple[int, Unit]] = field(default_factory=list)

    def execute(self, cluster: Cluster, inputs, workers: int | None, on_progress
                ) -> list[FileOutcome]:  # fmt: skip
        """Plan on the driver, score the rest on the cluster; outcomes in input order."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / RUN_FILE).write_text(json.dumps(asdict(self.sink)))
        progress = _Progress(len(inputs), on_progress)
        works = self._plan(inputs, progress)
        if works:
            ray = cluster.ray()
            try:
                for row in self._dataset(ray, works, workers).iter_rows():
                    self._commit(Path(row["shard"]), progress)
            except ray.exceptions.RayError as exc:
                raise cluster_error(exc) from exc
        self._settle_repeats(progress)
        return progress.in_order()

    def _settle_repeats(self, progress: _Progress) -> None:
        """Commit the repeats of files scored on the cluster: cached, or failed with their
        first (scoring.settle_repeats), so no run-log row claims a clip never stored."""
        if not self.repeats:
            return
        failed = {o.clip_id: o for o in progress.outcomes.values()
                  if o.status == "failed" and o.clip_id}  # fmt: skip
        units = settle_repeats([u for _, u in self.repeats], failed)
        outcomes = [u.outcome for u in units]
        self._write(BatchColumns.of(self.engine.embedding_dim, [], [], outcomes))
        progress.add([p for p, _ in self.repeats], outcomes)

    def _plan(self, inputs: Sequence[InputFile], progress: _Progress) -> list[Work]:
        """Hash and look up every input; commit the settled ones, return the files to score."""
        seen: Seen = {}
        works: list[Work] = []
        sent: set[str] = set()  # clip ids of the files going to the cluster
        for start in range(0, len(inputs), CHUNK_FILES):
            reads = [read_file(item) for item in inputs[start : start + CHUNK_FILES]]
            ids = [r.clip_id for r in reads if r.clip_id]
            known, cached = cache_state(self.store, self.engine.model_key, ids, self.frames)
            settled: list[tuple[int, Unit]] = []
            for position, read in enumerate(reads, start):
                planned = plan_read(read, known, cached, seen, self.metadata, self.options)
                if isinstance(planned, Unit) and planned.repeat and read.clip_id in sent:
                    self.repeats.append((position, planned))  # its first is not scored yet
                elif isinstance(planned, Unit):
                    settled.append((position, planned))
                else:
                    sent.add(read.clip_id)
                    works.append(self._work(position, read, *planned))
            if settled:
                units = [u for _, u in settled]
                self._write(BatchColumns.of(self.engine.embedding_dim,
                                            [u.clip for u in units if u.clip is not None], [],
                                            [u.outcome for u in units]))  # fmt: skip
                progress.add([p for p, _ in settled], [u.outcome for u in units])
        # Files of similar size land in the same batch: the engine pads each forward to its
        # longest clip, and size is the length's proxy known before decoding.
        return sorted(works, key=lambda w: (w.size_bytes, w.position))

    def _work(self, position: int, read, meta, done: set[str]) -> Work:
        """A file for the cluster; a zip member's playable copy is kept by the driver, next to
        the database, since workers may not see that folder."""
        media = self.options.media_dir
        copy = media / f"{read.clip_id}{read.item.suffix}" if media else None
        new_copy = copy is not None and not copy.exists()
        placeholder = ClipRecord(read.clip_id, read.item.name, None, 0.0, 0, 0, "", 0)
        path = clip_record(placeholder, read, meta, media).source_path
        if new_copy and path == str(copy):  # made for this file: removed if it fails to decode
            self.copies[position] = copy
        size = len(read.data) if read.data is not None else read.stamp[0]
        return Work(position, replace(read, data=None), meta, frozenset(done), path, size)

    def _dataset(self, ray, works: list[Work], workers: int | None):
        """The Ray Data pipeline: decode tasks, then the scoring actor pool writing shards."""
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        cpus = max(1, int(resources.get("CPU", 1)))
        threads = 1 if gpus else min(4, max(1, cpus // 2))
        scorers = self.ray_options.scorers or (gpus or max(1, cpus // (2 * threads)))
        if self.engine.precision != "fp32" and not gpus:
            raise InputError(f"{self.engine.precision} needs GPU workers; this cluster has none.")
        worker_options = ReadOptions(self.options.channel_mode, self.options.roles, None)
        model = ModelRef(str(self.engine.directory), self.engine.model_id, self.engine.model_key,
                         self.ray_options.hub, self.engine.precision)  # fmt: skip
        items = [{"work": pickle.dumps(w, protocol=5)} for w in works]
        size = self.ray_options.files_per_shard
        decoded = ray.data.from_items(items).map_batches(
            # A decode task reserves memory for its batch (files up to 16 MiB are held, a clip
            # up to 60 s decoded); the reservation also keeps Ray Data from fusing this stage
            # into the actors, so decoding stays in CPU tasks (Ray retries a task whose worker
            # died).
            decode_batch, batch_size=max(1, size // 4), num_cpus=1, memory=DECODE_MEMORY_BYTES,
            fn_kwargs={"options": worker_options},
            compute=ray.data.TaskPoolStrategy(size=workers) if workers else None,
        )  # fmt: skip
        return decoded.map_batches(
            Scorer, batch_size=size, num_cpus=threads, num_gpus=1 if gpus else 0,
            compute=ray.data.ActorPoolStrategy(size=scorers),
            fn_constructor_kwargs={
                "model": model, "device": "cuda" if gpus else "cpu", "threads": threads,
                "frames": self.frames, "options": worker_options, "run_dir": str(self.run_dir),
            },
        )  # fmt: skip

    def _commit(self, shard: Path, progress: _Progress) -> None:
        """Commit a shard's files not committed yet in this run (a retried batch may hold files
        another shard already brought), then mark the shard committed."""
        if (shard / COMMITTED).exists():
            return
        positions, columns = read_shard(shard, self.engine.embedding_dim)
        fresh = [p not in progress.outcomes for p in positions]
        if any(fresh):
            outcomes = columns.outcomes.filter(fresh)
            self._write(BatchColumns(**{**_tables(columns), "outcomes": outcomes}))
            added = [p for p, f in zip(positions, fresh, strict=True) if f]
            progress.add(added, outcomes_of(outcomes))
            for position in added:  # the local path copies only audio that decoded
                if progress.outcomes[position].status == "failed" and position in self.copies:
                    self.copies.pop(position).unlink(missing_ok=True)
        (shard / COMMITTED).touch()

    def _write(self, columns: BatchColumns) -> None:
        self.sink.write(self.store, columns)


def _tables(columns: BatchColumns) -> dict:
    return {name: getattr(columns, name) for name in columns.__dataclass_fields__}


# -- the command line ---------------------------------------------------------------------------


def for_cli(args, store: Store):
    """What `ingest --ray` runs in place of the local path: how to collect the inputs and the
    ingest function, both set up from the command line's flags."""
    if args.ray is None:
        raise InputError("--staging goes with --ray.")
    if args.ray and Path(args.ray).exists():  # `--ray calls/ more/`: argparse took a path
        raise InputError(f"--ray {args.ray}: that is a path, not a Ray address; put --ray after "
                         "the paths (its address is optional).")  # fmt: skip
    require_ray()  # before any folder is walked: a missing extra fails at once
    options = RayOptions(args.ray or None, Path(args.staging) if args.staging else None,
                         hub=args.hub)  # fmt: skip
    root = staging_root(store.path, options.staging)

    def collecting(paths):
        return collected_for_ray(paths, root)

    def run(*a, **kw):
        return ray_ingest(*a, **kw, options=options)

    return collecting, run
