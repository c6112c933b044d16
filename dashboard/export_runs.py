"""This session's export on the Exports page: one at a time, bound to the selection it was
started for, its file on disk for as long as the session wants it.

The file is removed when a newer export replaces it, when the page runs for another selection
(model or filters: the session has moved on), and when the session ends (its state is
released: a finalizer drops the file, and stops the job if it still runs). A server that exits
normally removes them then; one ended by SIGTERM (Streamlit's server then skips Python's exit
handlers) or killed leaves them to the next export, which removes those of processes no longer
running (core.store.export.remove_stale_temp).
"""

from __future__ import annotations

import weakref

import streamlit as st

from core.jobs import JOBS, JobState
from core.store.database import ClipFilter
from dashboard import auth
from dashboard.downloads import ExportRequest, FileSlot, start_export

SESSION_KEY = "export-run"


class SessionExport:
    """An export this session started: its request, its job, and the slot of its file."""

    def __init__(self, request: ExportRequest, job_key: str, slot: FileSlot):
        self.request, self.key = request, job_key
        self._drop = weakref.finalize(self, _forget, job_key, slot)

    def state(self) -> JobState | None:
        """The job's progress now; None once it was forgotten."""
        job = JOBS.get(self.key)
        return job.snapshot() if job else None

    def discard(self) -> None:
        """Stop the job if it runs, remove the file if it was written (once)."""
        self._drop()


def _forget(job_key: str, slot: FileSlot) -> None:
    slot.drop()
    JOBS.forget(job_key)


def current(model_key: str, where: ClipFilter) -> SessionExport | None:
    """This session's export of this selection; one of another selection is discarded."""
    run = st.session_state.get(SESSION_KEY)
    if run is not None and (run.request.model_key, run.request.where) != (model_key, where):
        discard()
        return None
    return run


def begin(sign_in: auth.SignIn | None, request: ExportRequest) -> SessionExport:
    """Start an export in the background (the rights checked now), replacing the last one."""
    discard()
    slot = FileSlot()
    job = start_export(sign_in, request, slot)
    run = SessionExport(request, job.key, slot)
    st.session_state[SESSION_KEY] = run
    return run


def discard() -> None:
    """Drop this session's export, running or finished."""
    run = st.session_state.pop(SESSION_KEY, None)
    if run is not None:
        run.discard()
