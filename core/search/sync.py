"""Keeping a model's similarity index (core.search.index) in step with the database: built from
scratch, patched after ingests and deletions, or synced in a background thread for the dashboard
while the exact scan answers."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from core.errors import InputError
from core.search.calibration import calibrate
from core.search.index import (
    State,
    faiss_module,
    index_dir,
    read_ivf,
    rows_keys_path,
    unit_rows,
)
from core.store import similar as queries
from core.store.models import embedding_dim_of

log = logging.getLogger(__name__)

IVF_MIN = 20_000  # below this many rows an exact scan of the mapped rows is as fast
REBUILD_DEAD_SHARE = 0.25  # rebuild, rather than patch, when this share of rows is dead
REFIT_GROWTH = 4  # retrain the IVF when its rows outgrow those it was trained on this many times
TRAIN_PER_LIST = 64  # training rows per inverted list (faiss warns below 39)
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


def sync(store, model_key: str, rebuild: bool = False, ivf_min: int = IVF_MIN,
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
            if state.ivf is None and state.alive >= ivf_min:  # a build stopped half-way
                return _with_ivf(folder, state, report)
            if state.ivf is not None and state.probes is None:  # its calibration stopped
                return _calibrated(folder, state, report)
            return state
        if state is None or state.dim != dim or rebuild:
            return _rebuild(store, model_key, dim, folder, version, ivf_min, report)
        return _patch(store, model_key, dim, folder, version, state, ivf_min, report)


def _rebuild(store, model_key, dim, folder, version, ivf_min, report) -> State:
    generation = _next_generation(folder)
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
    # Published before the IVF is built (under a minute at 1.3M tracks on 2 cores): meanwhile
    # searches scan these mapped rows exactly rather than the database.
    state = State(model_key, dim, version, rows, rows, generation, vectors_name, keys_name, None)
    state.write(folder)
    _remove_other_generations(folder, state)
    if rows >= ivf_min:
        state = _with_ivf(folder, state, report)
    log.info("similarity index of %s: %d rows rebuilt in %.1f s", model_key, rows,
             time.perf_counter() - started)  # fmt: skip
    return state


def _next_generation(folder: Path) -> int:
    """One past every generation named in the folder (an older format's files included)."""
    found = [int(m.group(1)) for p in folder.iterdir() if (m := re.search(r"-g(\d+)\.", p.name))]
    return max(found, default=0) + 1


def _alive_rows(folder: Path, state: State) -> np.ndarray:
    keys = np.load(rows_keys_path(folder / state.keys), mmap_mode="r")
    return np.flatnonzero(keys["clip_id"] != b"")


def _with_ivf(folder: Path, state: State, report) -> State:
    """The state with an IVF trained on and holding its live rows, built, published, measured."""
    started = time.perf_counter()
    vectors = state.mapped_rows(folder)
    alive = _alive_rows(folder, state)
    lists = lists_for(len(alive))
    ivf = _trained_ivf(vectors, alive, lists, report)
    _add_rows(ivf, vectors, alive, report)
    ivf_name = f"ivf-g{state.generation}.faiss"
    _write_ivf(ivf, folder / ivf_name)
    log.info("similarity IVF of %s: %d rows in %d lists, %.1f s", state.model_key, len(alive),
             lists, time.perf_counter() - started)  # fmt: skip
    state = replace(state, ivf=ivf_name, lists=lists, trained_rows=len(alive), probes=None,
                    recall=None)  # fmt: skip
    state.write(folder)  # published uncalibrated: searches leave it unused until measured
    return _calibrated(folder, state, report)


def lists_for(rows: int) -> int:
    """Inverted lists for an IVF of `rows` rows: about their square root, 64 to 4,096, and at
    most one per 39 rows (fewer training rows a list and faiss's k-means warns)."""
    return int(max(1, min(4096, max(64, round(rows**0.5)), rows // 39)))


def _trained_ivf(vectors, alive: np.ndarray, lists: int, report):
    faiss = faiss_module()
    report(f"training the similarity index ({lists} lists)")
    sample = alive
    if len(alive) > TRAIN_PER_LIST * lists:
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(alive, TRAIN_PER_LIST * lists, replace=False))
    ivf = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(vectors.shape[1]), vectors.shape[1],
                                        lists, faiss.ScalarQuantizer.QT_8bit,
                                        faiss.METRIC_INNER_PRODUCT)  # fmt: skip
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    ivf.train(np.ascontiguousarray(vectors[sample]))
    return ivf


def _add_rows(ivf, vectors, rows: np.ndarray, report) -> None:
    faiss_module().omp_set_num_threads(os.cpu_count() or 1)
    for lo in range(0, len(rows), 50_000):
        part = rows[lo : lo + 50_000]
        ivf.add_with_ids(np.ascontiguousarray(vectors[part]), part.astype(np.int64))
        report(f"indexed {min(lo + 50_000, len(rows))}/{len(rows)} tracks")


def _write_ivf(ivf, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    faiss_module().write_index(ivf, str(tmp))
    os.replace(tmp, path)


def _calibrated(folder: Path, state: State, report) -> State:
    """The state with its IVF's probe count measured (core.search.calibration), published."""
    report("measuring the similarity index's recall")
    vectors = state.mapped_rows(folder)
    measured = calibrate(vectors, folder / state.ivf, _alive_rows(folder, state))
    state = replace(state, probes=measured.probes, recall=round(measured.recall, 4))
    state.write(folder)
    return state


def _patch(store, model_key, dim, folder, version, state, ivf_min, report) -> State:
    """Append the rows the index lacks, drop the ones the database lost; rebuild when cheaper."""
    old_keys = folder / state.keys
    gone = queries.gone_rows(store, model_key, dim, old_keys)
    dead = state.rows - state.alive + len(gone)
    if dead > REBUILD_DEAD_SHARE * max(state.rows, 1):
        return _rebuild(store, model_key, dim, folder, version, ivf_min, report)
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
    new = replace(state, version=version, rows=rows, alive=state.alive - len(gone) + added,
                  generation=generation, keys=keys_name)  # fmt: skip
    if new.alive < ivf_min:
        new = new.without_ivf()
    elif state.ivf is None or new.alive > REFIT_GROWTH * state.trained_rows:
        new = new.without_ivf()
        new.write(folder)  # the rows answer exactly while the IVF is trained afresh
        new = _with_ivf(folder, new, report)
    elif added or len(gone):
        new = _patched_ivf(folder, state, new, gone, report)
    new.write(folder)
    _remove_other_generations(folder, new)
    return new


def _patched_ivf(folder: Path, old: State, new: State, gone: np.ndarray, report) -> State:
    """The IVF of `old` with the rows it lacks added and the dead ones removed, under the new
    generation's name, measured again."""
    ivf = read_ivf(folder / old.ivf, mapped=False)
    if len(gone):
        ivf.remove_ids(np.asarray(gone, np.int64))
    vectors = new.mapped_rows(folder)
    _add_rows(ivf, vectors, np.arange(old.rows, new.rows), report)
    ivf_name = f"ivf-g{new.generation}.faiss"
    _write_ivf(ivf, folder / ivf_name)
    return _calibrated(folder, replace(new, ivf=ivf_name, probes=None, recall=None), report)


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


def _fixed_width(column: pa.ChunkedArray) -> np.ndarray:
    """UTF-8 strings as a fixed-width bytes array, as wide as the longest (at least 1)."""
    values = column.cast(pa.binary()).to_numpy(zero_copy_only=False)
    width = max((len(v) for v in values), default=1) or 1
    return values.astype(f"S{width}")


def _remove_other_generations(folder: Path, state: State) -> None:
    keep = {state.vectors, state.keys, rows_keys_path(Path(state.keys)).name, state.ivf,
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
        model_key = _model_of(folder)
        if model_key is not None and embedding_dim_of(store, model_key) is not None:
            sync(store, model_key, progress=progress)  # an older format's index is rebuilt
            done.append(model_key)
    return done


def _model_of(folder: Path) -> str | None:
    """The model an index folder is for, whatever the format of its state.json."""
    try:
        model_key = json.loads((folder / "state.json").read_text()).get("model_key")
    except (OSError, ValueError, AttributeError):
        return None
    return model_key if isinstance(model_key, str) else None
