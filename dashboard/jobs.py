"""Background jobs the pages start and poll: an upload's analysis and a projection; and the
file facts the upload page shows before a job starts (read in the page's run).

A job's thread runs core only (no st.*); the page polls it by its key (core.jobs).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import BinaryIO

import pandas as pd
import streamlit as st

from core.access import audit
from core.access.principal import Principal, require
from core.analysis import projection
from core.analysis.clusters import ProjectionParams
from core.ingest import sources
from core.jobs import JOBS, Job
from core.store.database import ClipFilter, Store
from dashboard import resources


def start_projection(principal: Principal, key: str, model_key: str, where: ClipFilter,
                     params: ProjectionParams) -> Job:  # fmt: skip
    """Compute a projection in a background job; the page polls the returned job.

    The job's thread reads and stores; the computing runs in a child process, so that it never
    holds this server's GIL (core.analysis.projection).

    Analysts and admins only (PermissionDenied otherwise), checked here on the server.
    """
    require(principal, "project")
    s = resources.store()
    audit.record(s, principal.email, "projection", f"{model_key}, {audit.describe_filter(where)}")
    return JOBS.start(
        key,
        lambda progress: projection.compute_projection(
            s, model_key, where, params, progress, isolated=True
        ),
    )


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
    if request.model.startswith(resources.LOCAL_PREFIX):
        require(principal, "local_model")
    source, s = (
        resources.model_source(request.model),
        resources.store(),
    )  # st.* calls stay in the script thread
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
    scorer = resources.engine(source, lambda size: progress(
        0, 1, f"Downloading {source} (first use only): {size / 1e6:,.0f} MB so far…"))  # fmt: skip
    asr = resources.transcriber(s, source) if request.transcribe else None
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


def job(key: str) -> Job | None:
    """A background job (an analysis or a projection) by its key."""
    return JOBS.get(key)


def upload_facts(uploads) -> pd.DataFrame:
    """What the Upload page lists for the uploaded files (a zip: one row per member): duration,
    sample rate, channels and codec from each header, or the file's problem. Kept per uploaded
    file for the session, as the page reruns on every click; dropped once a file is removed."""
    memo = st.session_state.setdefault("upload_facts", {})
    for gone in set(memo) - {u.file_id for u in uploads}:
        del memo[gone]
    for upload in uploads:
        if upload.file_id not in memo:
            memo[upload.file_id] = [_row(entry) for entry in _listed(upload)]
    return pd.DataFrame([row for upload in uploads for row in memo[upload.file_id]])


def _listed(upload) -> list:
    from core.errors import AudioError
    from core.ingest.preview import Listed, preview_zip
    from core.ingest.sources import InputFile
    from core.model.audio import probe

    if upload.name.lower().endswith(".zip"):
        return preview_zip(upload, upload.name)
    item = InputFile(name=upload.name)
    try:
        return [Listed(item, probe(upload.getvalue(), upload.name))]
    except AudioError as exc:
        return [Listed(InputFile(upload.name, problem=str(exc)))]


def _row(entry) -> dict:
    info = entry.info
    known = info is not None
    duration = round(info.duration_s, 2) if known and info.duration_s == info.duration_s else None
    return {"file": entry.item.name, "duration (s)": duration,
            "sample rate (Hz)": info.source_rate_hz if known else None,
            "channels": info.channels if known else None, "codec": info.codec if known else None,
            "problem": entry.item.problem or ""}  # fmt: skip
