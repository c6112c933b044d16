"""The staging folder of `ingest --ray`: Parquet shards between the workers and the database.

Workers never open the database. Each scored batch becomes one shard: a folder holding one
Parquet file per table of core.store.columns.BatchColumns plus the input positions of its files. A
shard appears under its final name only when complete (written under a hidden name, then
renamed), and its name comes from the positions it holds, so an actor that Ray retries after a
crash finds its shard already there instead of writing a second copy. The driver commits each
shard in one transaction and then writes a COMMITTED marker; a run's folder holds run.json
(its RunSink), so a later run can commit what a killed driver left (resume_leftovers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.ingest.sources import InputFile, collect
from core.records import FileOutcome
from core.store.batches import write_columns
from core.store.columns import BatchColumns
from core.store.database import Store
from core.store.ingest_runs import logged, run_status

COMMITTED = "COMMITTED"  # marker file: the driver committed this shard
POSITIONS = "positions.parquet"  # input positions of the shard's outcome rows, in row order
RUN_FILE = "run.json"
TABLES = tuple(f.name for f in fields(BatchColumns))


@dataclass(frozen=True)
class RunSink:
    """Where a run's shards go in: the database, the run and its model. Saved as the run
    folder's run.json, so a later run can commit what this one left (resume_leftovers)."""

    database: str
    run_id: int
    corpus: str
    model_key: str
    dim: int

    def write(self, store: Store, columns: BatchColumns) -> None:
        """One batch in one transaction (core.store.batches.write_columns, idempotent)."""
        write_columns(store, self.run_id, self.corpus, self.model_key, self.dim, columns)


def staging_root(db_path: Path, staging: Path | None) -> Path:
    """--staging, else <db>.staging next to the database."""
    return Path(staging or f"{db_path}.staging").expanduser().resolve()


@contextlib.contextmanager
def collected_for_ray(paths: Sequence[str], root: Path) -> Iterator[list[InputFile]]:
    """core.ingest.sources.collected, but zip members unpack inside the staging folder (shared
    storage, which workers on other machines can read) rather than the system temp folder."""
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="unpacked-", dir=root) as folder:
        yield collect(paths, unpack_to=Path(folder))
    with contextlib.suppress(OSError):
        root.rmdir()  # only when empty: shards of unfinished runs stay for the rerun


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


def resume_leftovers(store: Store, root: Path) -> int:
    """Commit the complete, uncommitted shards that ended runs on this database left behind
    (a killed driver); return how many. A run still 'running' (this one, another live ingest,
    or one on another host, which cannot be checked) is left alone. A shard whose files its run
    already logged is one whose commit went through just before the marker could be written:
    it is only marked."""
    count = 0
    for run_file in sorted(root.glob(f"run-*/{RUN_FILE}")):
        sink = RunSink(**json.loads(run_file.read_text()))
        if sink.database != str(store.path) or run_status(store, sink.run_id) == "running":
            continue
        for shard in sorted(run_file.parent.glob("shard-*")):
            if (shard / COMMITTED).exists():
                continue
            _, columns = read_shard(shard, sink.dim)
            if not logged(store, sink.run_id, columns.outcomes.column("source_name").to_pylist()):
                sink.write(store, columns)
                count += 1
            (shard / COMMITTED).touch()
        shutil.rmtree(run_file.parent, ignore_errors=True)
    return count


def outcomes_of(table) -> list[FileOutcome]:
    """FileOutcome records from a shard's outcomes table."""
    return [FileOutcome(**row) for row in table.to_pylist()]
