"""Cached adapters between pages and core. Pages call these; they never open the database.

The Store is a process-wide resource (`st.cache_resource`), and so are loaded models (a plain
cache, because an analysis loads its model in a worker thread, where st.* must not run); query results are
`st.cache_data` keyed on the database file's version (size and mtime of the file and its WAL), so
any ingest, from this app or the CLI, invalidates them without a manual refresh.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import streamlit as st

from core.access import audit
from core.access.principal import Principal, Role, require
from core.analysis import clusters, projection
from core.analysis.clusters import ProjectionParams
from core.errors import InputError, ModelDownloadError, ModelLoadError
from core.ingest import sources
from core.jobs import JOBS, Job
from core.model.engine import Engine, load_engine
from core.model.testmodel import make_test_model
from core.store import aggregates, corpora, curves, embeddings, export, filters, projections
from core.store import clips as clip_reads
from core.store import models as model_reads
from core.store.aggregates import ClipQuery, ClipSummary
from core.store.database import ClipFilter, Store, resolve_db_path

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
}  # fmt: skip

TEST_MODEL = "untrained test model"
LOCAL_MODEL = "local model directory"
HUB_MODELS = ("emotion2vec_plus_large", "emotion2vec_plus_base", "emotion2vec_plus_seed")
MODEL_CHOICES = (*HUB_MODELS, LOCAL_MODEL, TEST_MODEL)
LOCAL_PREFIX = "local:"  # engine("local:<name>") loads <models folder>/<name>


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


def models_dir() -> Path:
    """$EMOSCOPE_MODELS_DIR, else data/models: the only folder the web page loads models from."""
    return Path(os.environ.get("EMOSCOPE_MODELS_DIR") or "data/models").expanduser().resolve()


def local_models() -> list[str]:
    """Names of the model directories (those holding a config.yaml) in the models folder.

    Visitors pick one of these names; they never type a path, so they learn nothing about the
    server's folders and cannot make it load anything else.
    """
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "config.yaml").is_file())


def model_source(model: str) -> str:
    """What `load_engine` loads for a choice on the page: a hub name or a model directory.

    `model` is a hub name, TEST_MODEL, or LOCAL_PREFIX + a name from `local_models()`; anything
    else is refused, so a visitor can never make the server load a path of their choosing.
    """
    if model == TEST_MODEL:
        return str(test_model_dir())
    if model in HUB_MODELS:
        return model
    name = model.removeprefix(LOCAL_PREFIX)
    if model.startswith(LOCAL_PREFIX) and name in local_models():
        return str(models_dir() / name)
    raise InputError(f"{name}: not one of the models offered here; choose one from the list.")


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()
_ENGINES_KEPT = 2  # loaded models held at once (the large one holds ~1.2 GB)


def engine(source: str, on_download: Callable[[int], None] | None = None) -> Engine:
    """A loaded model shared by every session; safe from a worker thread (no st.* inside).

    Loading imports funasr and, for a hub model's first use, downloads it (`on_download` hears
    the bytes so far); the lock makes a second upload wait for that rather than load it twice.
    """
    with _ENGINES_LOCK:
        if source not in _ENGINES:
            while len(_ENGINES) >= _ENGINES_KEPT:
                _ENGINES.pop(next(iter(_ENGINES)))
            try:
                _ENGINES[source] = load_engine(source, on_download=on_download)
            except ModelDownloadError as exc:  # the page's reader has no command line
                raise ModelLoadError(exc.for_web("EMOSCOPE_MODELS_DIR")) from exc
        return _ENGINES[source]


def version() -> tuple:
    """Changes whenever the database file changes (any process)."""
    return store().file_stamp()


@st.cache_data(show_spinner=False, max_entries=256)
def _read(_s: Store, path: str, v: tuple, method: str, *args):
    """One cached store read; `path` and the file version `v` key it, so writes invalidate it."""
    return _READS[method](_s, *args)


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


# -- clusters: read a stored projection, or compute one in a background job -------------------


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


def start_projection(principal: Principal, key: str, model_key: str, where: ClipFilter,
                     params: ProjectionParams) -> Job:  # fmt: skip
    """Compute a projection in a background job; the page polls the returned job.

    The job's thread reads and stores; the computing runs in a child process, so that it never
    holds this server's GIL (core.analysis.projection).

    Analysts and admins only (PermissionDenied otherwise), checked here on the server.
    """
    require(principal, "project")
    s = store()
    audit.record(s, principal.email, "projection", f"{model_key}, {audit.describe_filter(where)}")
    return JOBS.start(
        key,
        lambda progress: projection.compute_projection(
            s, model_key, where, params, progress, isolated=True
        ),
    )


# -- exports: counted on page load, written by DuckDB only when a download is clicked ----------


def export_rows(model_key: str, where: ClipFilter) -> dict[str, int]:
    """Rows of each export of the selection (clips, frames, embeddings)."""
    s = store()
    return _count_rows(s, str(s.path), version(), model_key, where)


@st.cache_data(show_spinner=False, max_entries=64)
def _count_rows(_s: Store, path: str, v: tuple, model_key: str, where: ClipFilter):
    return export.count_rows(_s, model_key, where)


@dataclass(frozen=True)
class Analysis:
    """What the upload page asked for: the job's inputs besides the files."""

    model: str
    corpus: str
    metadata: object
    frames: bool
    channel_mode: str
    roles: tuple[str, ...]
    transcribe: bool = False  # also run SenseVoice (the test model's own tiny one for it)


def start_analysis(principal: Principal, request: Analysis,
                   uploads: list[tuple[str, BinaryIO]]) -> str:  # fmt: skip
    """Score uploads into a corpus in a background job; the key the page polls it by.

    Analysts and admins only, and a model from the server's models folder for admins only: a
    lesser role's attempt (a crafted rerun, a stale page) is refused here, on the server, before
    anything starts. The files are read at the job's start (zips unpacked
    to a temporary folder, removed at the end) and kept under the media folder for playback. The
    upload is audited and the run records its user.
    """
    require(principal, "analyse")
    if request.model.startswith(LOCAL_PREFIX):
        require(principal, "local_model")
    source, s = model_source(request.model), store()  # st.* calls stay in the script thread
    names = [name for name, _ in uploads]

    def work(progress):
        summary = None
        try:
            summary = _analyse(s, source, request, uploads, principal.email, progress)
        finally:  # also when it failed half-way: what was stored stays, and so does who sent it
            outcome = (f"run {summary.run_id}: {summary.scored} scored, {summary.cached} cached, "
                       f"{summary.failed} failed" if summary else "did not finish")  # fmt: skip
            audit.record(s, principal.email, "upload",
                         f"corpus {request.corpus!r}, {audit.describe_files(names)}; {outcome}")  # fmt: skip
        return summary

    key = f"analyse-{uuid.uuid4().hex}"
    JOBS.start(key, work)
    return key


def _analyse(s: Store, source: str, request: Analysis, uploads, user: str, progress):
    """The analysis job's work (worker thread: core only, no st.*)."""
    from core.ingest.pipeline import ingest

    # A damaged file is refused first, as `core ingest` does, not after a model was downloaded
    # and loaded only to fail at the first write. Checking an 11 GB file takes seconds: here,
    # in the job, never in the page's script run.
    progress(0, 1, "Checking the database…")
    s.check_writable()
    progress(0, 1, f"Loading the model {source.rsplit('/', 1)[-1]}…")
    scorer = engine(source, lambda size: progress(
        0, 1, f"Downloading {source} (first use only): {size / 1e6:,.0f} MB so far…"))  # fmt: skip
    asr = transcriber(s, source) if request.transcribe else None
    with sources.received(uploads) as unpacked:
        summary = ingest(s, scorer, unpacked, request.corpus, metadata=request.metadata,
                         frames=request.frames, channel_mode=request.channel_mode,
                         channel_roles=request.roles, media_dir=s.path.parent / "media",
                         user_name=user, on_progress=lambda done, total, secs: progress(
                             done, total, f"{done}/{total} files · {secs:.1f} s of audio"))  # fmt: skip
        if asr is not None:
            from core.ingest.transcribing import transcribe_inputs

            transcribe_inputs(s, asr, scorer, unpacked, request.channel_mode, request.roles,
                              on_progress=lambda done, total, secs: progress(
                                  done, total, f"transcribing: {done}/{total} files"))  # fmt: skip
        return summary


_TRANSCRIBERS: dict[str, object] = {}


def transcriber(s: Store, source: str):
    """SenseVoice for an analysis: the tiny test one beside the emotion test model, else
    SenseVoiceSmall from the hub; loaded once per process (worker thread: no st.*)."""
    from core.model.transcribe import DEFAULT_ASR_MODEL, load_transcriber

    asr = DEFAULT_ASR_MODEL
    if source == str(s.path.parent / "test-model"):  # test_model_dir(), without st.*
        from core.model.asr_testmodel import make_sensevoice_test_model

        directory = s.path.parent / "test-model-asr"
        if not (directory / "model.pt").exists():
            make_sensevoice_test_model(directory)
        asr = str(directory)
    with _ENGINES_LOCK:
        if asr not in _TRANSCRIBERS:
            try:
                _TRANSCRIBERS[asr] = load_transcriber(asr)
            except ModelDownloadError as exc:
                raise ModelLoadError(exc.for_web("EMOSCOPE_MODELS_DIR")) from exc
        return _TRANSCRIBERS[asr]


def for_visitor(message: str) -> str:
    """A core message as a visitor may read it: the database by its name, never its folder."""
    path = store().path
    return message.replace(str(path), path.name)


def job(key: str) -> Job | None:
    """A background job (an analysis or a projection) by its key."""
    return JOBS.get(key)


def describe_input(item) -> dict:
    """File facts shown before scoring: duration, sample rate, channels, codec, or the problem."""
    from core.errors import AudioError
    from core.model.audio import probe

    row = {"file": item.name, "duration (s)": None, "sample rate (Hz)": None, "channels": None,
           "codec": None, "problem": item.problem or ""}  # fmt: skip
    if item.problem or (item.path is None and item.data is None):  # a zip member not unpacked yet
        return row
    try:
        info = probe(item.path if item.path is not None else item.data, item.name)
    except AudioError as exc:
        row["problem"] = str(exc)
        return row
    row.update({"duration (s)": round(info.duration_s, 2), "sample rate (Hz)": info.source_rate_hz,
                "channels": info.channels, "codec": info.codec})  # fmt: skip
    return row


def score_dict(row) -> dict[str, float]:
    """The 9 scores of a clips-table row (namedtuple or Series) keyed by emotion."""
    from core.model.labels import EMOTIONS

    values = row._asdict() if hasattr(row, "_asdict") else dict(row)
    return {e: float(values[f"score_{e}"]) for e in EMOTIONS}


# -- Overview page (core.analysis.overview functions take the Store first) -------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def _overview(_s: Store, path: str, v: tuple, model_key: str, where: ClipFilter, period: str):
    from core.analysis.overview import overview as compute

    return compute(_s, model_key, where, period)


def overview(model_key: str, where: ClipFilter, period: str):
    """core.analysis.overview.Overview of the selection, cached until the database file changes."""
    s = store()
    return _overview(s, str(s.path), version(), model_key, where, period)


# -- Model check (#13): the user's labels against each model's top emotion ---------------------


@st.cache_data(show_spinner=False, max_entries=64)
def _check_read(_s: Store, path: str, v: tuple, name: str, *args):
    """One cached core.store.evaluation call, keyed like `_read` on the file's version."""
    from core.store import evaluation as evaluate_reads

    return getattr(evaluate_reads, name)(_s, *args)


def _checked(name: str, *args):
    s = store()
    return _check_read(s, str(s.path), version(), name, *args)


def labelled_corpora() -> pd.DataFrame:
    """Corpora with their clip counts and how many clips carry a label."""
    return _checked("labelled_corpora")


def label_counts(corpus: str) -> pd.DataFrame:
    """A corpus's labels as stored (None: unlabelled) with clip counts."""
    return _checked("label_counts", corpus)


def labelled_tracks(corpus: str) -> list[str]:
    return _checked("labelled_tracks", corpus)


def check_corpus(corpus: str, overrides: tuple[tuple[str, str | None], ...],
                 track: str | None):  # fmt: skip
    """core.analysis.evaluation.CorpusCheck of every model that scored the corpus's labelled clips."""
    return _checked("check_corpus", corpus, dict(overrides), None, track)


def cell_clips(corpus: str, model_key: str, labels: tuple[str, ...], predicted: str,
               track: str | None) -> pd.DataFrame:  # fmt: skip
    """The clips behind one cell of the confusion matrix (most confident first, ≤ 500)."""
    return _checked("cell_clips", corpus, model_key, labels, predicted, track)


# -- sign-in: roles granted by admins, the audit log, corpus deletion (Admin page) -------------


def granted_role(email: str) -> Role | None:
    """The role an admin granted `email`, read again whenever the database changes."""
    s = store()
    return _granted_role(s, str(s.path), version(), email)


@st.cache_data(show_spinner=False, max_entries=256)
def _granted_role(_s: Store, path: str, v: tuple, email: str) -> Role | None:
    from core.access.roles import granted_role as read

    return read(_s, email)


def audit_log(principal: Principal, limit: int, action: str | None = None) -> pd.DataFrame:
    """The newest audit rows (admins only)."""
    require(principal, "read_audit")
    return audit.read(store(), limit, action)


def role_table(principal: Principal) -> pd.DataFrame:
    """Every granted role (admins only)."""
    from core.access.roles import list_roles

    require(principal, "manage_roles")
    return list_roles(store())


def set_role(principal: Principal, email: str, role: Role) -> bool:
    """Grant `role` to `email` (admins only); True once stored."""
    from core.access.roles import set_role as grant

    grant(store(), principal, email, role)
    return True


def remove_role(principal: Principal, email: str) -> bool:
    """Withdraw a granted role (admins only); False when there was none."""
    from core.access.roles import remove_role as withdraw

    return withdraw(store(), principal, email)


def delete_corpus(principal: Principal, name: str):
    """Delete a corpus and what only it uses (admins only); returns the DeletionReport."""
    from core.store.deletion import delete_corpus as delete

    s = store()
    return delete(s, principal, name, s.path.parent / "media")


@st.cache_data(show_spinner=False, max_entries=64)
def _transcript_read(_s: Store, path: str, v: tuple, name: str, *args):
    """One cached core.store.transcripts call, keyed like `_read` on the file's version."""
    from core.store import transcripts

    return getattr(transcripts, name)(_s, *args)


def transcript(clip_id: str, track: str | None = None) -> pd.DataFrame:
    """A clip's transcript (one row per segment), empty when it was not transcribed."""
    s = store()
    return _transcript_read(s, str(s.path), version(), "segments_of", clip_id, track)


def said_lines(said: str, keys: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Each listed (clip_id, track)'s first line containing `said`, with its time."""
    s = store()
    return _transcript_read(s, str(s.path), version(), "matching_lines", said, keys)
