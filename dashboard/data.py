"""Cached adapters between pages and core. Pages call these; they never open the database.

The Store and the Engine are process-wide resources (`st.cache_resource`); query results are
`st.cache_data` keyed on the database file's version (size and mtime of the file and its WAL), so
any ingest, from this app or the CLI, invalidates them without a manual refresh.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import analytics, export
from core.model import Engine, load_engine
from core.store import ClipFilter, Store, resolve_db_path
from core.testmodel import make_test_model

TEST_MODEL = "untrained test model"
MODEL_CHOICES = (
    "emotion2vec_plus_large", "emotion2vec_plus_base", "emotion2vec_plus_seed",
    "local model directory", TEST_MODEL,
)  # fmt: skip


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path, busy_timeout_s=15)


def store() -> Store:
    """The database named by $EMOSCOPE_DB, else data/emoscope.duckdb (the CLI's rule)."""
    return _store(str(resolve_db_path()))


def test_model_dir() -> Path:
    """The untrained test model beside the database, written on first use (seconds)."""
    directory = store().path.parent / "test-model"
    if not (directory / "model.pt").exists():
        make_test_model(directory)
    return directory


@st.cache_resource(show_spinner="Loading the model (first use downloads it)…", max_entries=2)
def engine(model: str) -> Engine:
    """A loaded model, shared by every session; imports funasr only when first called."""
    target = str(test_model_dir()) if model == TEST_MODEL else model
    return load_engine(target)


def version() -> tuple:
    """Changes whenever the database file changes (any process)."""
    path = store().path
    stats = [p.stat() for p in (path, Path(f"{path}.wal")) if p.exists()]
    return tuple((s.st_size, s.st_mtime_ns) for s in stats)


@st.cache_data(show_spinner=False, max_entries=256)
def _read(_s: Store, path: str, v: tuple, method: str, *args):
    """One cached Store read; `path` and the file version `v` key it, so writes invalidate it."""
    return getattr(_s, method)(*args)


def _cached(method: str, *args):
    s = store()
    return _read(s, str(s.path), version(), method, *args)


def models() -> pd.DataFrame:
    return _cached("models")


def model_info(model_key: str) -> pd.Series:
    """One model's row: model_id, revision, embedding_dim, untrained …"""
    return models().set_index("model_key").loc[model_key]


def corpora() -> pd.DataFrame:
    return _cached("corpora")


def filter_options() -> dict:
    return _cached("filter_options")


def clips(model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
    return _cached("clips", model_key, where)


def tracks_with_curves(model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
    return _cached("tracks_with_curves", model_key, where)


def frame_logits(clip_id: str, model_key: str, track: str = "mix") -> np.ndarray | None:
    return _cached("frame_logits", clip_id, model_key, track)


def segments(clip_id: str, model_key: str, track: str = "mix") -> pd.DataFrame:
    """Windows of a long recording with their scores; empty for clips scored whole."""
    return _cached("segments", clip_id, model_key, track)


def embeddings(model_key: str, where: ClipFilter) -> tuple[pd.DataFrame, np.ndarray]:
    return _cached("embeddings", model_key, where)


def projection(model_key: str, where: ClipFilter, k: int, n_neighbors: int, min_dist: float,
               compute: bool, on_progress=None) -> tuple[pd.DataFrame, np.ndarray] | None:  # fmt: skip
    """Clips of the selection with x, y, cluster: from the database, or computed and stored.

    Returns None when it is not stored yet and `compute` is False.
    """
    clips_, matrix = embeddings(model_key, where)
    params = {"k": k, "n_neighbors": n_neighbors, "min_dist": min_dist, "algo": "umap-cosine"}
    key = analytics.projection_key(list(clips_.clip_id + "/" + clips_.track), model_key, params)
    stored = store().projection(key)
    if stored.empty:
        if not compute:
            return None
        points = analytics.project(matrix, k, n_neighbors, min_dist, on_progress=on_progress)
        stored = pd.concat([clips_[["clip_id", "track"]].reset_index(drop=True), points], axis=1)
        store().save_projection(key, stored)
    merged = clips_.merge(stored, on=["clip_id", "track"], how="inner")
    return merged, matrix


@st.cache_data(show_spinner=False, max_entries=8)
def _suggest(path: str, v: tuple, model_key: str, where: ClipFilter):
    return analytics.suggest_k(embeddings(model_key, where)[1])


def suggest_k(model_key: str, where: ClipFilter) -> tuple[int, dict[int, float]]:
    return _suggest(str(store().path), version(), model_key, where)


@st.cache_data(show_spinner=False, max_entries=16)
def _export(_s: Store, path: str, v: tuple, what: str, fmt: str, model_key: str, where: ClipFilter):
    frame = export.table(_s, what, model_key, where)
    return export.to_bytes(frame, fmt), len(frame)


def export_bytes(what: str, fmt: str, model_key: str, where: ClipFilter) -> tuple[bytes, int]:
    return _export(store(), str(store().path), version(), what, fmt, model_key, where)


def analyse(
    model: str, inputs, corpus: str, metadata, frames: bool, channel_mode: str, roles, on_progress
):
    """Score uploads into a corpus with the shared engine; files are kept for playback."""
    from core.ingest import ingest

    s = store()
    return ingest(s, engine(model), inputs, corpus, metadata=metadata, frames=frames,
                  channel_mode=channel_mode, channel_roles=roles, media_dir=s.path.parent / "media",
                  on_progress=on_progress)  # fmt: skip


def describe_input(item) -> dict:
    """File facts shown before scoring: duration, sample rate, channels, codec, or the problem."""
    from core.audio import probe
    from core.errors import AudioError

    row = {"file": item.name, "duration (s)": None, "sample rate (Hz)": None, "channels": None,
           "codec": None, "problem": item.problem or ""}  # fmt: skip
    if item.problem:
        return row
    try:
        info = probe(item.read_bytes(), item.name)
    except AudioError as exc:
        row["problem"] = str(exc)
        return row
    row.update({"duration (s)": round(info.duration_s, 2), "sample rate (Hz)": info.source_rate_hz,
                "channels": info.channels, "codec": info.codec})  # fmt: skip
    return row


def score_dict(row) -> dict[str, float]:
    """The 9 scores of a clips-table row (namedtuple or Series) keyed by emotion."""
    from core.labels import EMOTIONS

    values = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return {e: float(values[f"score_{e}"]) for e in EMOTIONS}


# -- Overview page (core.overview functions take the Store first) -------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def _overview(_s: Store, path: str, v: tuple, model_key: str, where: ClipFilter, period: str):
    from core.overview import overview as compute

    return compute(_s, model_key, where, period)


def overview(model_key: str, where: ClipFilter, period: str):
    """core.overview.Overview of the selection, cached until the database file changes."""
    s = store()
    return _overview(s, str(s.path), version(), model_key, where, period)
