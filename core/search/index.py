"""The nearest-neighbour index of one model's embeddings, in a folder beside the database file.

    <db>.similar/<model>/state.json       what the files hold and the data version they match
                         vectors-g<N>.f32  unit-length float32 rows (memory-mapped; exact scores)
                         keys-g<N>.parquet (row, clip_id, track) of the live rows (DuckDB joins it)
                         keys-g<N>.npy     the same, one fixed-width record per row (mapped)
                         ivf-g<N>.faiss    an inverted-file index of the live rows (faiss
                                           IndexIVFScalarQuantizer, 8-bit codes), from IVF_MIN rows

Chosen by measuring (bench/similar_index.py, bench/results/similar-index-*.md): at 130k tracks
faiss's IVF with 8-bit codes built in 11 s and answered in 5 / 7 ms (p50 / p95) at recall@20
0.98, where usearch's HNSW graph (f16) took 197 s and 28 / 40 ms at 0.97, faiss's HNSW 76 s,
hnswlib and pynndescent longer; at 1.3M tracks the IVF built in under a minute, the graph in
34 minutes. The IVF is opened as a memory map (faiss IO_FLAG_MMAP_IFC), so a server pays no load
time and its processes share the pages. It only proposes candidates: every score shown is the
exact cosine from the float32 rows. How many lists a search probes is measured after each build
or patch (core.search.calibration).

Never wrong, only slower (core.search.similar does the searching):
- the state records the store's `data_version` (raised by every result-changing write) read
  BEFORE the rows were read, so a write during a build leaves the index marked stale;
- a stale index still answers: the rows it lacks are scored exactly (one anti-join on its keys),
  and every candidate is looked up in the database under the current filter before it is shown,
  so a deleted corpus never appears;
- `core.search.sync` brings it up to date incrementally (new rows appended, deleted rows removed
  from the IVF) or rebuilds it when too much of it is dead; files are written under a new
  generation and `state.json` replaced atomically, so a reader sees the old index or the new one.

This module holds the format and the opening for searches; core.search.sync the building.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

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
    ivf: str | None  # None below IVF_MIN rows: the mapped rows are scanned exactly
    lists: int = 0  # the IVF's inverted lists
    trained_rows: int = 0  # rows it was trained on: a sync retrains it when the rows outgrow them
    # lists a search probes per 20 results (core.search.calibration); None: not measured yet, and
    # until it is the IVF is not used
    probes: int | None = None
    recall: float | None = None  # what the calibration measured at that count

    @staticmethod
    def read(folder: Path) -> State | None:
        """The folder's state; None when missing, unreadable or of an older format (an index
        with a usearch graph, before the IVF: the next sync rebuilds it)."""
        try:
            return State(**json.loads((folder / "state.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def without_ivf(self) -> State:
        """This state with no IVF: its rows are scanned exactly."""
        return replace(self, ivf=None, lists=0, trained_rows=0, probes=None, recall=None)

    def mapped_rows(self, folder: Path) -> np.ndarray:
        """The (rows, dim) float32 rows file of this state, memory-mapped read-only."""
        return np.memmap(folder / self.vectors, np.float32, "r", shape=(self.rows, self.dim))

    def write(self, folder: Path) -> None:
        tmp = folder / f"state.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.__dict__, indent=1))
        os.replace(tmp, folder / "state.json")


@dataclass(frozen=True)
class Opened:
    """An index opened for searching: its mapped rows and keys, and the IVF (if any)."""

    folder: Path
    state: State
    vectors: np.ndarray  # (rows, dim) float32, memory-mapped
    row_keys: np.ndarray  # (rows,) records (clip_id, track), memory-mapped; dead rows blank
    ivf: object | None

    @property
    def keys_file(self) -> Path:
        return self.folder / self.state.keys

    def keys_at(self, rows: np.ndarray) -> pd.DataFrame:
        """(row, clip_id, track) of some index rows (rows dead or out of range left out)."""
        rows = np.asarray(rows, np.int64)
        rows = rows[(rows >= 0) & (rows < len(self.row_keys))]
        found = self.row_keys[rows]
        alive = found["clip_id"] != b""
        return pd.DataFrame({
            "row": rows[alive],
            "clip_id": np.char.decode(found["clip_id"][alive], "utf-8").astype(object),
            "track": np.char.decode(found["track"][alive], "utf-8").astype(object),
        })  # fmt: skip


_opened: dict[Path, tuple[tuple, Opened]] = {}
_open_lock = threading.Lock()


def open_index(db_path: Path, model_key: str, dim: int) -> Opened | None:
    """The model's index, mapped once per process and state; None when missing or unusable."""
    folder = index_dir(db_path, model_key)
    try:
        found = (folder / "state.json").stat()
    except OSError:
        return None
    stamp = (found.st_ino, found.st_mtime_ns, found.st_size)  # each write replaces the file
    with _open_lock:
        cached = _opened.get(folder)
        if cached and cached[0] == stamp:
            return cached[1]
        state = State.read(folder)
        if state is None or state.dim != dim or state.model_key != model_key:
            return None
        try:
            vectors = state.mapped_rows(folder)
            row_keys = np.load(rows_keys_path(folder / state.keys), mmap_mode="r")
            ivf = None
            if state.ivf and state.probes:  # not measured yet: the rows answer
                ivf = read_ivf(folder / state.ivf, mapped=True)
        except (OSError, ValueError, RuntimeError) as exc:  # replaced under us, or damaged
            log.warning("similarity index %s unusable: %s", folder, exc)
            return None
        opened = Opened(folder, state, vectors, row_keys, ivf)
        _opened[folder] = (stamp, opened)
        return opened


def faiss_module():
    """The faiss module, or an InputError saying how to install it."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a broken install
        raise InputError(
            "similar recordings need the faiss-cpu package: "
            ".venv/bin/python -m pip install faiss-cpu==1.15.1 (it is in requirements.txt)"
        ) from exc
    return faiss


def read_ivf(path: Path, mapped: bool):
    """An IVF file: memory-mapped read-only for searching, else read whole (to patch it)."""
    faiss = faiss_module()
    flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mapped else 0
    return faiss.read_index(str(path), flags)


def scan_rows(vectors: np.ndarray, query: np.ndarray, n: int) -> np.ndarray:
    """The cosine of each of the first `n` rows with the query, reading the mapped rows in order."""
    sims = np.empty(n, np.float32)
    for lo in range(0, n, 65_536):
        sims[lo : lo + 65_536] = vectors[lo : lo + 65_536] @ query
    return sims


def ivf_candidates(ivf, query: np.ndarray, probes: int, keep: int,
                   allowed: np.ndarray | None = None, n_rows: int = 0) -> np.ndarray:  # fmt: skip
    """Rows the IVF proposes for `query`, `probes` lists searched, best first by its 8-bit
    codes' distance, `allowed` rows only (of `n_rows`), at most `keep`: only these are
    re-scored from the float32 rows (8-bit distances keep the true top 20 among a few hundred)."""
    faiss = faiss_module()
    params = faiss.SearchParametersIVF(nprobe=max(1, min(int(probes), ivf.nlist)))
    if allowed is not None:  # the filter applies inside the search, list by list
        mask = np.zeros(max(n_rows, int(allowed.max(initial=-1)) + 1), bool)
        mask[allowed] = True
        bitmap = np.packbits(mask, bitorder="little")
        params.sel = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
    _, found = ivf.search(np.asarray(query, np.float32)[None, :], int(keep), params=params)
    rows = found[0]
    return rows[rows >= 0].astype(np.int64)


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
