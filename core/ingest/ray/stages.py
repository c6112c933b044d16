"""The workers' side of `ingest --ray`: decode in CPU tasks, score in an actor pool.

Workers never open the database: the scoring actors write each batch as a Parquet shard in the
staging folder (core.ingest.ray.staging), which the driver (core.ingest.ray.driver) commits. Nothing here
imports Ray: these are plain functions and a plain class that Ray Data runs. Rows travel between
the stages as pickled records in one binary column, because a Unit (decoded waves of any length,
nested records) does not map onto Arrow columns, and Ray Data would try to convert it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.errors import ModelLoadError
from core.ingest.metadata import Metadata
from core.ingest.ray.staging import write_shard
from core.ingest.reading import FileRead, ReadOptions, Unit, changed_message, decode_unit, read_file
from core.ingest.scoring import finish_long, score_units
from core.records import FileOutcome


@dataclass(frozen=True)
class Work:
    """One uncached file as the driver sends it to the cluster.

    `read` is the driver's hash of the file without its bytes: a worker reads the file itself
    (shared storage), so the driver's memory and network carry names, not audio.
    """

    position: int  # in the run's input list
    read: FileRead
    meta: Metadata
    done: frozenset[str]  # tracks this model already scored
    source_path: str | None  # what the clip row stores as its path (a playable copy for zips)
    size_bytes: int


@dataclass(frozen=True)
class ModelRef:
    """How an actor loads the driver's model, and the key its results must carry."""

    directory: str
    model_id: str
    model_key: str
    hub: str = "ms"
    precision: str = "fp32"


def decode_batch(batch: dict[str, np.ndarray], options: ReadOptions) -> dict[str, list]:
    """Ray Data CPU stage: read each file again, check it is what the driver hashed, decode."""
    works = [pickle.loads(blob) for blob in batch["work"]]
    units = [decoded(w, options) for w in works]
    return {
        "position": [w.position for w in works],
        "unit": [pickle.dumps(u, protocol=5) for u in units],
        "source_path": [w.source_path for w in works],
    }


def decoded(work: Work, options: ReadOptions) -> Unit:
    """One file read once more and decoded; a file whose bytes changed since the driver hashed
    them is reported as changed, so a clip id never names other audio."""
    read = read_file(work.read.item)
    if read.error:
        return Unit(FileOutcome(read.item.name, "failed", message=read.error))
    if read.clip_id != work.read.clip_id:
        name = read.item.name
        return Unit(FileOutcome(name, "failed", work.read.clip_id, message=changed_message(name)))
    return decode_unit(read, work.meta, set(work.done), options)


class Scorer:
    """Ray Data actor: holds one Engine and turns each batch of decoded units into a shard."""

    def __init__(self, model: ModelRef, device: str, threads: int, frames: bool,
                 options: ReadOptions, run_dir: str):  # fmt: skip
        from core.model.engine import load_engine

        spec = model.directory if Path(model.directory).is_dir() else model.model_id
        self.engine = load_engine(spec, device, hub=model.hub, precision=model.precision,
                                  threads=threads)  # fmt: skip
        if self.engine.model_key != model.model_key:  # another revision on this worker's disk
            raise ModelLoadError(
                f"a Ray worker loaded {self.engine.model_key} where the driver has "
                f"{model.model_key}; give every node the same model files."
            )
        self.frames, self.options, self.run_dir = frames, options, Path(run_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        units, scored, segments = [], [], []
        for blob, path in zip(batch["unit"], batch["source_path"], strict=True):
            unit = pickle.loads(blob)
            if unit.long:
                unit, long_scored, long_segments = finish_long(
                    self.engine, unit, self.frames, self.options
                )
                scored += long_scored
                segments += long_segments
            if path and unit.clip is not None:
                unit = replace(unit, clip=replace(unit.clip, source_path=path))
            units.append(unit)
        _, columns = score_units(self.engine, units, scored, segments, self.frames)
        shard = write_shard(self.run_dir, [int(p) for p in batch["position"]], columns)
        return {"shard": [str(shard)]}
