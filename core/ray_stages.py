"""The workers' side of `ingest --ray`: decode in CPU tasks, score in an actor pool, write shards.

Workers never open the database. Each scored batch becomes one shard: a folder in the staging
folder holding one Parquet file per table of core.columns.BatchColumns plus the input positions
of its files. A shard appears under its final name only when complete (written under a hidden
name, then renamed), and its name comes from the positions it holds, so an actor that Ray
retries after a crash finds its shard already there instead of writing a second copy. The
driver (core.ray_ingest) commits shards into DuckDB and marks each one committed.

Nothing here imports Ray: these are plain functions and a plain class that Ray Data runs.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import uuid
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.columns import BatchColumns
from core.errors import ModelLoadError
from core.ingest import finish_long, score_units
from core.ingest_read import FileRead, ReadOptions, Unit, changed_message, decode_unit, read_file
from core.metadata import Metadata
from core.records import FileOutcome

COMMITTED = "COMMITTED"  # marker file: the driver committed this shard
POSITIONS = "positions.parquet"  # input positions of the shard's outcome rows, in row order
TABLES = tuple(f.name for f in fields(BatchColumns))


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
        from core.model import load_engine

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


def write_shard(run_dir: Path, positions: list[int], columns: BatchColumns) -> Path:
    """Write a batch as a shard folder, atomically; an existing shard of the same files is kept.

    The name is derived from the positions, so a retried batch lands on the same name.
    """
    digest = hashlib.sha1(",".join(map(str, positions)).encode()).hexdigest()[:12]
    final = run_dir / f"shard-{min(positions):08d}-{digest}"
    if final.exists():
        return final
    partial = run_dir / f".partial-{uuid.uuid4().hex}"
    partial.mkdir(parents=True)
    for name in TABLES:
        pq.write_table(getattr(columns, name), partial / f"{name}.parquet")
    pq.write_table(pa.table({"position": pa.array(positions, pa.int64())}), partial / POSITIONS)
    try:
        os.rename(partial, final)
    except OSError:  # another attempt of the same batch got there first: same content
        shutil.rmtree(partial, ignore_errors=True)
    return final


def read_shard(shard: Path, dim: int) -> tuple[list[int], BatchColumns]:
    """A shard's input positions and its tables, cast back to the exact schemas write_columns
    reads (Parquet keeps FLOAT[dim] as a list)."""
    empty = BatchColumns.empty(dim)
    tables = {
        name: pq.read_table(shard / f"{name}.parquet").cast(getattr(empty, name).schema)
        for name in TABLES
    }
    positions = pq.read_table(shard / POSITIONS).column("position").to_pylist()
    return positions, BatchColumns(**tables)
