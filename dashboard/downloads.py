"""Exports written in a background job with progress, then served from their file on disk.

A click on an export button checks the visitor's rights then and starts a job (core.jobs) that
runs core.store.export into a temporary file, counting the rows DuckDB writes; the Exports page
polls it (rows written of the rows selected, time taken) while every other page stays usable.
The finished file stays on disk; its download button is deferred: Streamlit calls `served` only
when it is clicked, which checks the visitor's rights again (a role removed meanwhile stops the
download) and hands over the open file. Streamlit reads it into memory once for that response
and drops it at its next clean-up; it is never held in the session. Which file a session keeps,
and when it goes, is dashboard.export_runs. Each file is audited with its outcome; a refusal or
failure at the download reaches the visitor as one line under its button
(`install_failure_messages`), not as Streamlit's generic "Failed to generate file".
"""

from __future__ import annotations

import contextvars
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import streamlit as st

from core.access import audit
from core.access.principal import require
from core.errors import Cancelled, EmoScopeError
from core.jobs import JOBS, Job
from core.store import export
from core.store.database import ClipFilter, Store
from dashboard import auth, resources
from dashboard.i18n.catalog import core_text

log = logging.getLogger(__name__)

# The message of the download being served in this context, for the patched handler below;
# asyncio.to_thread copies the context into the worker, so the holder is shared with it.
_FAILURE: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "emoscope_download", default=None
)
FAILED = "The file could not be built; the server log has the details. Try again, or tell an admin."
CANCELLED = "The export was cancelled."
GONE = "This file was removed from the server; export it again."
EXCEL_CSV = "excel"  # CSV with a UTF-8 byte-order mark: what Excel on Windows reads as UTF-8
ROWS = "rows written"  # the export job's stage once DuckDB writes


def file_name(what: str, fmt: str) -> str:
    """The name a download is saved under."""
    return f"emoscope-{what}.{'csv' if fmt == EXCEL_CSV else fmt}"


@dataclass(frozen=True)
class ExportRequest:
    """One export of a selection: what, in which format (csv, parquet or EXCEL_CSV)."""

    what: str
    fmt: str
    model_key: str
    where: ClipFilter
    expected: int | None = None  # rows the page counted for it (else the job counts them)

    @property
    def written(self) -> str:
        return "csv" if self.fmt == EXCEL_CSV else self.fmt

    @property
    def shown_name(self) -> str:
        """The file as the page names it (clips.csv)."""
        return f"{self.what}.{self.written}"

    @property
    def detail(self) -> str:
        """The audit log's words for it."""
        bom = " (BOM)" if self.fmt == EXCEL_CSV else ""
        return f"{self.shown_name}{bom}, {self.model_key}, {audit.describe_filter(self.where)}"


@dataclass(frozen=True)
class Exported:
    """A finished export's file on the server."""

    path: Path
    rows: int
    size: int  # bytes


class FileSlot:
    """Where an export job leaves its file, for as long as the session wants it.

    `drop` (a newer export, another selection, the session's end) stops a running job at its
    next 2048 rows and removes a finished file; a job that finishes after the drop removes
    its own file (`keep` answers False).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._wanted, self._path = True, None

    @property
    def wanted(self) -> bool:
        with self._lock:
            return self._wanted

    def keep(self, path: Path) -> bool:
        """Hold the job's finished file; False if it is no longer wanted."""
        with self._lock:
            if self._wanted:
                self._path = path
            return self._wanted

    def drop(self) -> None:
        """No longer wanted: a running job stops, a kept file is removed."""
        with self._lock:
            self._wanted, path, self._path = False, self._path, None
        if path is not None:
            export.remove_temp(path)


def start_export(sign_in: auth.SignIn | None, request: ExportRequest, slot: FileSlot) -> Job:
    """Check the visitor's rights now and write the export in a background job.

    PermissionDenied (or a subclass) if they may not export at this moment; the job's result is
    an `Exported`, its progress the rows written of the rows selected.
    """
    principal = auth.principal_now(sign_in)  # the rights of this click, not of the page's run
    require(principal, "export")
    s = resources.store()  # st.* calls stay in the script thread
    key = f"export-{uuid.uuid4().hex}"
    return JOBS.start(key, lambda progress: _write(s, principal.email, request, slot, progress))


def _write(s: Store, user: str, request: ExportRequest, slot: FileSlot, progress) -> Exported:
    """The export job's work (worker thread: core only, no st.*); audited either way."""

    def report(done: int, total: int) -> None:
        if not slot.wanted:
            raise Cancelled(CANCELLED)
        progress(done, total, ROWS)

    try:
        written = export.export_to_temp(s, request.what, request.written, request.model_key,
                                        request.where, request.fmt == EXCEL_CSV, report,
                                        expected=request.expected)  # fmt: skip
        if not slot.keep(written.path):
            export.remove_temp(written.path)
            raise Cancelled(CANCELLED)
    except Exception as exc:
        _audit_failure(
            s, user, request.detail, str(exc) if isinstance(exc, EmoScopeError) else FAILED
        )
        raise
    try:
        audit.record(s, user, "export", request.detail)  # no file without its audit row
    except Exception:
        slot.drop()
        raise
    return Exported(written.path, written.rows, written.path.stat().st_size)


def _audit_failure(s: Store, user: str, detail: str, message: str) -> None:
    try:
        audit.record(s, user, "export", f"{detail}; failed: {message}")
    except Exception:  # the failure may be the database itself: the log keeps it then
        log.exception("could not audit a failed export (%s, %s)", user, detail)


def served(
    sign_in: auth.SignIn | None, result: Exported, lang: str = "en"
) -> Callable[[], BinaryIO]:
    """A download button's deferred data: on click, check the visitor's rights now and hand
    Streamlit the finished file, open; messages for the visitor are in `lang` (the page's)."""

    def serve() -> BinaryIO:
        try:
            require(auth.principal_now(sign_in), "export")
            return result.path.open("rb")
        except EmoScopeError as exc:
            _tell_visitor(core_text(resources.for_visitor(str(exc)), lang, lead_in=True))
            raise
        except FileNotFoundError:
            _tell_visitor(core_text(GONE, lang))
            raise

    return serve


def _tell_visitor(message: str) -> None:
    holder = _FAILURE.get()
    if holder is not None:
        holder["message"] = message


def install_failure_messages() -> bool:
    """Show a download's own refusal or failure under its button (server start, once).

    Streamlit answers any exception in a deferred download with a fixed "Failed to generate
    file for download"; this wraps its handler so the message `serve` left (always one written
    for the visitor) replaces it. False when this Streamlit has no such handler to wrap.
    """
    try:
        from streamlit.runtime.backend_operation_handler import DeferredFileHandler
    except ImportError:
        return False
    if getattr(DeferredFileHandler.handle, "_emoscope", False):
        return True
    original = DeferredFileHandler.handle

    async def handle(self, request, session_id):
        holder: dict = {}
        token = _FAILURE.set(holder)
        try:
            response = await original(self, request, session_id)
        finally:
            _FAILURE.reset(token)
        if response.error_msg and holder.get("message"):
            response.error_msg = holder["message"]
        return response

    handle._emoscope = True  # type: ignore[attr-defined]
    DeferredFileHandler.handle = handle
    return True


# -- counted on the Exports page's load, written by DuckDB only when a button is clicked ----


def export_rows(model_key: str, where: ClipFilter) -> dict[str, int]:
    """Rows of each export of the selection (clips, frames, embeddings)."""
    s = resources.store()
    return _count_rows(s, str(s.path), resources.version(), model_key, where)


@st.cache_data(show_spinner=False, max_entries=64)
def _count_rows(_s: Store, path: str, v: tuple, model_key: str, where: ClipFilter):
    return export.count_rows(_s, model_key, where)
