"""Background jobs the pages start and poll: an upload's analysis and a projection; and the
file facts the upload page shows before a job starts.

A job's thread runs core only (no st.*); the page polls it by its key (core.jobs).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import BinaryIO

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
