"""The nearest-neighbour index of one model's embeddings, in a folder beside the database file.

    <db>.similar/<model>/state.json       what the files hold and the data version they match
                         vectors-g<N>.f32  unit-length float32 rows (memory-mapped; exact scores)
                         keys-g<N>.parquet (row, clip_id, track) of the live rows (DuckDB joins it)
                         keys-g<N>.npy     the same, one fixed-width record per row (mapped)
                         graph-g<N>.usearch HNSW over the rows (usearch, f16), when rows >= GRAPH_MIN
                                            and its measured recall allows (core.search.calibration)

Chosen by measuring (bench/similar_index.py, bench/results/similar-index-*.json): usearch's
HNSW with f16 vectors built fastest, with the smallest file, and is opened as a memory map
(`view`), so a server with 1M tracks pays no load time and shares the pages between processes.
The graph only proposes candidates; every score shown is the exact cosine from the float32 rows.
How many candidates it must propose is measured after each build (core.search.calibration); a
graph that cannot reach the recall asked for is not used.

Never wrong, only slower (core.search.similar does the searching):
- the state records the store's `data_version` (raised by every result-changing write) read
  BEFORE the rows were read, so a write during a build leaves the index marked stale;
- a stale index still answers: the rows it lacks are scored exactly (one anti-join on its keys),
  and every candidate is looked up in the database under the current filter before it is shown,
  so a deleted corpus never appears;
- `core.search.sync` brings it up to date incrementally (new rows appended, deleted rows removed
  from the graph) or rebuilds it when too much of it is dead; files are written under a new
  generation and `state.json` replaced atomically, so a reader sees the old index or the new one.

This module holds the format and the opening for searches; core.search.sync the building.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from core.errors import InputError
from core.store import similar as queries
from core.store.models import embedding_dim_of

log = logging.getLogger(__name__)


def index_dir(db_path: Path, model_key: str) -> Path:
    """<db>.similar/<model key made safe as a name, with a short hash of the key itself>."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key)[:60]
    digest = hashlib.sha256(model_key.encode()).hexdigest()[:8]
    return Path(db_path).parent / f"{Path(db_path).name}.similar" / f"{safe}-{digest}"


def rows_keys_path(keys_file: Path) -> Path:
    """The row-indexed keys written beside a keys Parquet file (`keys-g<N>.npy`)."""
    return Path(keys_file).with_suffix(".npy")


def usearch_index():
    """usearch's Index class, or an InputError saying how to install it."""
    try:
        from usearch.index import Index
    except ImportError as exc:  # pragma: no cover - a broken install
        raise InputError(
            "similar recordings need the usearch package: "
            ".venv/bin/python -m pip install usearch==2.26.6 (it is in requirements.txt)"
        ) from exc
    return Index


@dataclass(frozen=True)
class State:
    """What an index folder holds."""

    model_key: str
    dim: int
    version: int  # the store's data_version the rows match
    rows: int  # rows in the vectors file (dead ones included)
    alive: int  # rows whose track the database held at the last sync
    generation: int
    vectors: str
    keys: str
    graph: str | None
    # graph candidates a search takes per 20 results (core.search.calibration); None: not yet
    # measured, 0: measured and too few found the true nearest. Either way the graph is unused.
    candidates: int | None = None
    recall: float | None = None  # what the calibration measured at that count

    @staticmethod
    def read(folder: Path) -> State | None:
        try:
            return State(**json.loads((folder / "state.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, folder: Path) -> None:
        tmp = folder / f"state.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.__dict__, indent=1))
        os.replace(tmp, folder / "state.json")


@dataclass
class Opened:
    """An index opened for searching: mapped rows, the keys file and the graph (if any)."""

    folder: Path
    state: State
    vectors: np.ndarray  # (rows, dim) float32, memory-mapped
    graph: object | None
    row_keys: np.ndarray | None = None  # (rows,) clip_id, track: mapped; None before it existed
    _keys: pa.Table | None = field(default=None, repr=False)  # the keys file, once read
    _loading: bool = field(default=False, repr=False)

    @property
    def keys_file(self) -> Path:
        return self.folder / self.state.keys

    def keys_at(self, rows: np.ndarray) -> pd.DataFrame:
        """(row, clip_id, track) of some index rows (absent rows left out).

        Looked up in the mapped row-indexed keys. An index written before those existed asks
        DuckDB on its first search (~115 ms at 1.3M tracks) and starts reading the whole keys
        file in the background (~1.5 s, ~110 MB kept) for the searches after it.
        """
        rows = np.asarray(rows, np.int64)
        if self.row_keys is not None:
            rows = rows[(rows >= 0) & (rows < len(self.row_keys))]
            found = self.row_keys[rows]
            alive = found["clip_id"] != b""
            return pd.DataFrame({
                "row": rows[alive],
                "clip_id": np.char.decode(found["clip_id"][alive], "utf-8").astype(object),
                "track": np.char.decode(found["track"][alive], "utf-8").astype(object),
            })  # fmt: skip
        keys = self._keys
        if keys is None:
            self._load_keys_in_background()
            return queries.keys_at(self.keys_file, rows)
        order = keys.column("row").to_numpy()
        at = np.minimum(np.searchsorted(order, rows), max(len(order) - 1, 0))
        found = at[order[at] == rows] if len(order) else at[:0]
        return keys.take(pa.array(found)).to_pandas()

    def _load_keys_in_background(self) -> None:
        with _open_lock:
            if self._loading:
                return
            self._loading = True

        def load() -> None:
            import pyarrow.parquet as pq

            # At the lowest priority (Linux; elsewhere as it is): a page being drawn comes first.
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
            try:
                table = pq.read_table(self.keys_file, columns=["row", "clip_id", "track"])
                self._keys = table.sort_by("row").combine_chunks()
            except (OSError, ValueError) as exc:  # replaced by a newer index: DuckDB answers
                log.warning("similarity keys %s not kept in memory: %s", self.keys_file, exc)

        threading.Thread(target=load, name="similar-keys", daemon=True).start()


_opened: dict[Path, tuple[tuple, Opened]] = {}
_open_lock = threading.Lock()


def open_index(db_path: Path, model_key: str, dim: int) -> Opened | None:
    """The model's index, mapped once per process and state; None when missing or unusable."""
    folder = index_dir(db_path, model_key)
    try:
        stamp = (folder / "state.json").stat().st_mtime_ns
    except OSError:
        return None
    with _open_lock:
        cached = _opened.get(folder)
        if cached and cached[0] == (stamp,):
            return cached[1]
        state = State.read(folder)
        if state is None or state.dim != dim or state.model_key != model_key:
            return None
        try:
            vectors = np.memmap(folder / state.vectors, np.float32, "r", shape=(state.rows, dim))
            row_keys = None
            with contextlib.suppress(FileNotFoundError):  # older indexes have only the Parquet
                row_keys = np.load(rows_keys_path(folder / state.keys), mmap_mode="r")
            graph = None
            if state.graph and state.candidates:  # uncalibrated or too poor: the rows answer
                graph = usearch_index().restore(str(folder / state.graph), view=True)
                if graph is None:
                    return None
        except (OSError, ValueError) as exc:  # replaced under us, or damaged: search without
            log.warning("similarity index %s unusable: %s", folder, exc)
            return None
        opened = Opened(folder, state, vectors, graph, row_keys)
        _opened[folder] = ((stamp,), opened)
        return opened


def scan_rows(vectors: np.ndarray, query: np.ndarray, n: int) -> np.ndarray:
    """The cosine of each of the first `n` rows with the query, reading the mapped rows in order."""
    sims = np.empty(n, np.float32)
    for lo in range(0, n, 65_536):
        sims[lo : lo + 65_536] = vectors[lo : lo + 65_536] @ query
    return sims


def graph_candidates(graph, query: np.ndarray, count: int, n_rows: int, keep: int,
                     allowed: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Rows the graph proposes for `query` (`count` asked for), best first by the graph's own
    f16 distance, `allowed` only, at most `keep` of them: only these are re-scored from the
    float32 rows. Keeping a few hundred of 16,000 proposals changes no top 20 measurably (f16
    distances are within ~1e-3 of the exact ones) and spares a search ~90 MB of random reads."""
    rows = np.asarray(graph.search(query, count).keys, np.int64)  # sorted by distance
    rows = rows[(rows >= 0) & (rows < n_rows)]
    if allowed is not None:
        rows = rows[np.isin(rows, allowed)]
    return rows[:keep]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as float32."""
    matrix = np.asarray(matrix, np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def read_embeddings(store, model_key: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Every embedding of a model as (keys, unit-length float32 matrix), for the bench."""
    dim = embedding_dim_of(store, model_key)
    if dim is None:
        raise InputError(f"no results of model {model_key!r} in {store.path}.")
    keys, parts = [], []
    for clip_ids, tracks, block in queries.embedding_batches(store, model_key, dim):
        keys.extend(zip(clip_ids.to_pylist(), tracks.to_pylist(), strict=True))
        parts.append(unit_rows(block))
    return keys, (np.concatenate(parts) if parts else np.zeros((0, dim), np.float32))
