"""Cached reads for the pages. Pages call these; they never open the database.

Query results are `st.cache_data` keyed on the database file's version (size and mtime of the
file and its WAL, dashboard.resources.version), so any ingest, from this app or the CLI,
invalidates them without a manual refresh.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from core.access.principal import Role
from core.analysis import clusters
from core.analysis.clusters import ProjectionParams
from core.store import aggregates, corpora, curves, embeddings, filters, projections
from core.store import clips as clip_reads
from core.store import evaluation as evaluation_reads
from core.store import models as model_reads
from core.store import transcripts as transcript_reads
from core.store.aggregates import ClipQuery, ClipSummary
from core.store.database import ClipFilter, Store
from dashboard import resources

# The store's read functions by the names the page cache keys them on.
_READS: dict[str, Callable] = {
    "models": model_reads.list_models, "corpora": corpora.list_corpora,
    "filter_options": filters.filter_options, "clips": clip_reads.select_clips,
    "clip_page": aggregates.clip_page, "clip_table": aggregates.clip_table,
    "trends": aggregates.agent_trends, "curve_tracks": curves.curve_tracks,
    "frame_logits": curves.read_frame_logits, "segments": curves.read_segments,
    "embeddings": embeddings.select_embeddings,
    "selection_fingerprint": aggregates.selection_fingerprint,
    "projection_size": projections.projection_size,
    "projection_points": projections.projection_points,
    "cluster_profile": projections.cluster_profile,
    "labelled_corpora": evaluation_reads.labelled_corpora,
    "label_counts": evaluation_reads.label_counts,
    "labelled_tracks": evaluation_reads.labelled_tracks,
    "check_corpus": evaluation_reads.check_corpus, "cell_clips": evaluation_reads.cell_clips,
    "segments_of": transcript_reads.segments_of,
    "matching_lines": transcript_reads.matching_lines,
}  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=256)
def _read(_s: Store, path: str, v: tuple, method: str, *args):
    """One cached store read; `path` and the file version `v` key it: writes invalidate it."""
    return _READS[method](_s, *args)


def _cached(method: str, *args):
    s = resources.store()
    return _read(s, str(s.path), resources.version(), method, *args)


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
    """Every clip of a small selection (e.g. the files just uploaded); pages page larger ones."""
    return _cached("clips", model_key, where)


def clip_page(model_key: str, query: ClipQuery) -> pd.DataFrame:
    """One page of the clip table, filtered, searched and sorted in the database."""
    return _cached("clip_page", model_key, query)


def clip_table(model_key: str, query: ClipQuery) -> tuple[ClipSummary, pd.DataFrame]:
    """The selection's summary (rows, recordings, mean confidence) and one page of it."""
    return _cached("clip_table", model_key, query)


def trends(model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """Per agent and period: n, emotion shares, mean confidence (aggregated in DuckDB)."""
    return _cached("trends", model_key, where, period)


def curve_tracks(model_key: str, search: str = "", clip_ids: tuple[str, ...] = (),
                 limit: int = 200) -> pd.DataFrame:  # fmt: skip
    return _cached("curve_tracks", model_key, search, clip_ids, limit)


def frame_logits(clip_id: str, model_key: str, track: str = "mix") -> np.ndarray | None:
    return _cached("frame_logits", clip_id, model_key, track)


def segments(clip_id: str, model_key: str, track: str = "mix",
             duration_s: float | None = None) -> pd.DataFrame:  # fmt: skip
    """Windows of a long recording with their scores; empty for clips scored whole.

    Given the clip's duration, a clip too short to be scored in windows skips the lookup (a
    scan of every segment of a large corpus).
    """
    from core.ingest.pipeline import LONG_FROM_S

    if duration_s is not None and duration_s <= LONG_FROM_S:
        return pd.DataFrame(columns=["segment", "start_s", "end_s", "top_label", "confidence"])
    return _cached("segments", clip_id, model_key, track)


def embeddings(model_key: str, where: ClipFilter) -> tuple[pd.DataFrame, np.ndarray]:
    """A small selection's clips and (N, D) embeddings (the upload page's downloads)."""
    return _cached("embeddings", model_key, where)


def projection_key(model_key: str, where: ClipFilter, params: ProjectionParams) -> tuple[str, int]:
    """(key, number of tracks) of the selection's projection, from a SQL fingerprint."""
    n, fingerprint = _cached("selection_fingerprint", model_key, where)
    return clusters.projection_key(model_key, n, fingerprint, params), n


def projection_size(key: str) -> int:
    return _cached("projection_size", key)


def projection_points(key: str, model_key: str, where: ClipFilter, max_points: int) -> pd.DataFrame:
    return _cached("projection_points", key, model_key, where, max_points)


def cluster_profile(key: str, model_key: str) -> pd.DataFrame:
    return _cached("cluster_profile", key, model_key)


def score_dict(row) -> dict[str, float]:
    """The 9 scores of a clips-table row (namedtuple or Series) keyed by emotion."""
    from core.model.labels import EMOTIONS

    values = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return {e: float(values[f"score_{e}"]) for e in EMOTIONS}


@st.cache_data(show_spinner=False, max_entries=32)
def _overview(_s: Store, path: str, v: tuple, model_key: str, where: ClipFilter, period: str):
    from core.analysis.overview import overview as compute

    return compute(_s, model_key, where, period)


def overview(model_key: str, where: ClipFilter, period: str):
    """core.analysis.overview.Overview of the selection, cached until the database file changes."""
    s = resources.store()
    return _overview(s, str(s.path), resources.version(), model_key, where, period)


def labelled_corpora() -> pd.DataFrame:
    """Corpora with their clip counts and how many clips carry a label."""
    return _cached("labelled_corpora")


def label_counts(corpus: str) -> pd.DataFrame:
    """A corpus's labels as stored (None: unlabelled) with clip counts."""
    return _cached("label_counts", corpus)


def labelled_tracks(corpus: str) -> list[str]:
    return _cached("labelled_tracks", corpus)


def check_corpus(corpus: str, overrides: tuple[tuple[str, str | None], ...],
                 track: str | None):  # fmt: skip
    """core.analysis.evaluation.CorpusCheck of every model that scored the corpus's labelled clips."""
    return _cached("check_corpus", corpus, dict(overrides), None, track)


def cell_clips(corpus: str, model_key: str, labels: tuple[str, ...], predicted: str,
               track: str | None) -> pd.DataFrame:  # fmt: skip
    """The clips behind one cell of the confusion matrix (most confident first, ≤ 500)."""
    return _cached("cell_clips", corpus, model_key, labels, predicted, track)


def granted_role(email: str) -> Role | None:
    """The role an admin granted `email`, read again whenever the database changes."""
    s = resources.store()
    return _granted_role(s, str(s.path), resources.version(), email)


@st.cache_data(show_spinner=False, max_entries=256)
def _granted_role(_s: Store, path: str, v: tuple, email: str) -> Role | None:
    from core.access.roles import granted_role as read

    return read(_s, email)


def transcript(clip_id: str, track: str | None = None) -> pd.DataFrame:
    """A clip's transcript (one row per segment), empty when it was not transcribed."""
    return _cached("segments_of", clip_id, track)


def said_lines(said: str, keys: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Each listed (clip_id, track)'s first line containing `said`, with its time."""
    return _cached("matching_lines", said, keys)
