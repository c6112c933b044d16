"""Keeping a model's similarity index (core.search.index) in step with the database: built from
scratch, patched after ingests and deletions, or synced in a background thread for the dashboard
while the exact scan answers."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from core.errors import InputError
from core.search.calibration import calibrate
from core.search.index import State, index_dir, rows_keys_path, unit_rows, usearch_index
from core.store import similar as queries
from core.store.models import embedding_dim_of

log = logging.getLogger(__name__)

GRAPH_MIN = 20_000  # below this many rows an exact scan of the mapped rows is as fast
REBUILD_DEAD_SHARE = 0.25  # rebuild, rather than patch, when this share of rows is dead
CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH = 16, 128, 64
Progress = Callable[[str], None]


@contextlib.contextmanager
def _building(folder: Path):
    """One sync at a time per index (across processes); yields False when another holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sync(store, model_key: str, rebuild: bool = False, graph_min: int = GRAPH_MIN,
         progress: Progress | None = None) -> State | None:  # fmt: skip
    """Bring the model's index up to date with the database; returns its state, or None when
    another process is building it right now (the searches answer exactly meanwhile)."""
    report = progress or (lambda message: None)
    dim = embedding_dim_of(store, model_key)
    if dim is None:
        raise InputError(f"no results of model {model_key!r} in {store.path}.")
    folder = index_dir(store.path, model_key)
    with _building(folder) as mine:
        if not mine:
            return None
        version = queries.data_version(store)  # BEFORE reading rows: a later write marks it stale
        state = State.read(folder)
        if state is not None and state.dim == dim and state.version == version and not rebuild:
            if state.graph is None and state.rows >= graph_min:  # a build stopped half-way
                return _with_graph(folder, state, report)
            if not rows_keys_path(folder / state.keys).exists():  # from before the mapped keys
                _keys_by_row(folder, state)
            if state.graph is not None and state.candidates is None:  # from before calibration
                return _calibrated(folder, state, report)
            return state
        if state is None or state.dim != dim or rebuild:
            return _rebuild(store, model_key, dim, folder, version, state, graph_min, report)
        return _patch(store, model_key, dim, folder, version, state, graph_min, report)


def _rebuild(store, model_key, dim, folder, version, old, graph_min, report) -> State:
    generation = (old.generation + 1) if old else 1
    vectors_name, keys_name = f"vectors-g{generation}.f32", f"keys-g{generation}.parquet"
    started = time.perf_counter()
    clip_ids, tracks, rows = [], [], 0
    with open(folder / vectors_name, "wb") as out:
        for ids, trs, block in queries.embedding_batches(store, model_key, dim):
            out.write(unit_rows(block).tobytes())
            clip_ids.append(ids)
            tracks.append(trs)
            rows += len(block)
            report(f"read {rows} embeddings")
    _write_keys(folder / keys_name, clip_ids, tracks, 0)
    # Published before the graph is built: at 1M tracks the build takes long on a small server,
    # and meanwhile searches scan these mapped rows exactly rather than the database.
    state = State(model_key, dim, version, rows, rows, generation, vectors_name, keys_name, None)
    state.write(folder)
    _remove_other_generations(folder, state)
    if rows >= graph_min:
        state = _with_graph(folder, state, report)
    log.info("similarity index of %s: %d rows rebuilt in %.1f s", model_key, rows,
             time.perf_counter() - started)  # fmt: skip
    return state


def _with_graph(folder: Path, state: State, report) -> State:
    """The state with a graph over all its rows, built from scratch and published."""
    graph_name = f"graph-g{state.generation}.usearch"
    vectors = np.memmap(folder / state.vectors, np.float32, "r", shape=(state.rows, state.dim))
    _build_graph(vectors, np.arange(state.rows), folder / graph_name, None, report)
    return _calibrated(folder, replace(state, graph=graph_name), report)


def _calibrated(folder: Path, state: State, report) -> State:
    """The state with its graph's candidate count measured (core.search.calibration), published."""
    report("measuring the graph's recall")
    vectors = np.memmap(folder / state.vectors, np.float32, "r", shape=(state.rows, state.dim))
    measured = calibrate(vectors, folder / state.graph)
    if not measured.candidates:
        log.warning("similarity graph of %s found %.2f of the nearest tracks at most; searches "
                    "scan the rows exactly", state.model_key, measured.recall)  # fmt: skip
    state = replace(state, candidates=measured.candidates, recall=round(measured.recall, 4))
    state.write(folder)
    return state


def _patch(store, model_key, dim, folder, version, state, graph_min, report) -> State:
    """Append the rows the index lacks, drop the ones the database lost; rebuild when cheaper."""
    old_keys = folder / state.keys
    gone = queries.gone_rows(store, model_key, dim, old_keys)
    dead = state.rows - state.alive + len(gone)
    if dead > REBUILD_DEAD_SHARE * max(state.rows, 1):
        return _rebuild(store, model_key, dim, folder, version, state, graph_min, report)
    clip_ids, tracks, added = [], [], 0
    with open(folder / state.vectors, "r+b") as out:
        out.seek(state.rows * dim * 4)  # past a half-written tail of an interrupted patch
        for ids, trs, block in queries.embedding_batches(store, model_key, dim, old_keys):
            out.write(unit_rows(block).tobytes())
            clip_ids.append(ids)
            tracks.append(trs)
            added += len(block)
    rows = state.rows + added
    generation = state.generation + 1
    keys_name = f"keys-g{generation}.parquet"
    _write_keys(folder / keys_name, clip_ids, tracks, state.rows, old_keys, gone)
    alive = state.alive - len(gone) + added
    graph_name = state.graph
    if rows >= graph_min:
        vectors = np.memmap(folder / state.vectors, np.float32, "r", shape=(rows, dim))
        graph_name = f"graph-g{generation}.usearch"
        previous = folder / state.graph if state.graph else None
        new_rows = np.arange(state.rows, rows) if previous else np.arange(rows)
        if previous is None and len(gone):  # a first graph: leave the dead rows out of it
            new_rows = np.setdiff1d(new_rows, gone)
        _build_graph(vectors, new_rows, folder / graph_name, previous, report, gone)
    new = State(model_key, dim, version, rows, alive, generation, state.vectors, keys_name,
                graph_name, state.candidates, state.recall)  # fmt: skip
    if graph_name != state.graph:  # a graph built or changed: measure it again
        new = _calibrated(folder, new, report)
    else:
        new.write(folder)
    _remove_other_generations(folder, new)
    return new


def _build_graph(vectors, rows, path: Path, previous: Path | None, report,
                 gone: np.ndarray | None = None) -> None:  # fmt: skip
    index_class = usearch_index()
    index = index_class(ndim=vectors.shape[1], metric="cos", dtype="f16",
                        connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                        expansion_search=EXPANSION_SEARCH)  # fmt: skip
    if previous is not None:
        index.load(str(previous))
        if gone is not None and len(gone):
            index.remove(gone.astype(np.uint64))
    for lo in range(0, len(rows), 50_000):
        part = rows[lo : lo + 50_000]
        index.add(part.astype(np.uint64), np.asarray(vectors[part]), threads=os.cpu_count() or 1)
        report(f"indexed {min(lo + 50_000, len(rows))}/{len(rows)} tracks")
    tmp = path.with_suffix(".tmp")
    index.save(str(tmp))
    os.replace(tmp, path)


def _write_keys(path: Path, clip_ids, tracks, first_row: int, old: Path | None = None,
                gone: np.ndarray | None = None) -> None:  # fmt: skip
    import pyarrow.parquet as pq

    ids = pa.chunked_array(clip_ids, pa.string()) if clip_ids else pa.chunked_array([], pa.string())
    trs = pa.chunked_array(tracks, pa.string()) if tracks else pa.chunked_array([], pa.string())
    n = len(ids)
    table = pa.table({"row": pa.array(np.arange(first_row, first_row + n, dtype=np.int64)),
                      "clip_id": ids, "track": trs})  # fmt: skip
    if old is not None:
        before = pq.read_table(old)
        if gone is not None and len(gone):
            import pyarrow.compute as pc

            before = before.filter(pc.invert(pc.is_in(before["row"], pa.array(gone))))
        table = pa.concat_tables([before.cast(table.schema), table])
    _write_row_keys(rows_keys_path(path), table, first_row + n)
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _write_row_keys(path: Path, table: pa.Table, rows: int) -> None:
    """The keys again as one fixed-width record per row (dead rows blank), memory-mapped by
    searches: a row's key is an index into it, where the Parquet file had to be read whole
    (1.5 s of CPU at 1.3M tracks) or asked through DuckDB (~120 ms) first."""
    clip_ids = _fixed_width(table["clip_id"])
    tracks = _fixed_width(table["track"])
    keys = np.zeros(rows, [("clip_id", clip_ids.dtype), ("track", tracks.dtype)])
    at = table["row"].to_numpy()
    keys["clip_id"][at], keys["track"][at] = clip_ids, tracks
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, keys)
    os.replace(tmp, path)


def _keys_by_row(folder: Path, state: State) -> None:
    """Write the row-indexed keys of an index from before them, from its Parquet keys."""
    import pyarrow.parquet as pq

    table = pq.read_table(folder / state.keys, columns=["row", "clip_id", "track"])
    _write_row_keys(rows_keys_path(folder / state.keys), table, state.rows)


def _fixed_width(column: pa.ChunkedArray) -> np.ndarray:
    """UTF-8 strings as a fixed-width bytes array, as wide as the longest (at least 1)."""
    values = column.cast(pa.binary()).to_numpy(zero_copy_only=False)
    width = max((len(v) for v in values), default=1) or 1
    return values.astype(f"S{width}")


def _remove_other_generations(folder: Path, state: State) -> None:
    keep = {state.vectors, state.keys, rows_keys_path(Path(state.keys)).name, state.graph,
            "state.json", "lock"}  # fmt: skip
    for path in folder.iterdir():
        if path.name not in keep and not path.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                path.unlink()


# -- background syncs (the dashboard's: the exact scan answers while one runs) -----------------

_syncing: dict[Path, threading.Thread] = {}
_syncing_lock = threading.Lock()


def sync_in_background(store, model_key: str) -> bool:
    """Start `sync` in a thread unless one runs for this index; True if one is running now."""
    folder = index_dir(store.path, model_key)
    with _syncing_lock:
        running = _syncing.get(folder)
        if running is not None and running.is_alive():
            return True

        def work() -> None:
            try:
                sync(store, model_key)
            except Exception:  # the next search tries again; searches answer exactly meanwhile
                log.exception("similarity index sync of %s failed", model_key)

        thread = threading.Thread(target=work, name=f"similar-sync-{model_key}", daemon=True)
        _syncing[folder] = thread
        thread.start()
        return True


def syncing(store, model_key: str) -> bool:
    thread = _syncing.get(index_dir(store.path, model_key))
    return bool(thread and thread.is_alive())


def sync_existing(store, progress: Progress | None = None) -> list[str]:
    """After an ingest or a deletion: bring every index that exists for this database up to
    date (incrementally); a model without an index is left without one. Returns the models."""
    root = Path(store.path).parent / f"{Path(store.path).name}.similar"
    if not root.is_dir():
        return []
    done = []
    for folder in sorted(root.iterdir()):
        state = State.read(folder)
        if state is not None and embedding_dim_of(store, state.model_key) is not None:
            sync(store, state.model_key, progress=progress)
            done.append(state.model_key)
    return done
