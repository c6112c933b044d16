"""Downloads built when their button is clicked, with the rights of that moment.

A deferred download runs in a worker thread, long after its page rendered: the Principal is
resolved again there from the visitor's `SignIn` (still signed in? role now?), so a role removed
while the Exports page stayed open stops the file from being built. Each file is audited with
its outcome; a refusal or failure reaches the visitor as one line under the button
(`install_failure_messages`), not as Streamlit's generic "Failed to generate file".
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import BinaryIO

import streamlit as st

from core.access import audit
from core.access.principal import require
from core.errors import EmoScopeError
from core.store import export
from core.store.database import ClipFilter, Store
from dashboard import auth, resources
from dashboard.i18n.catalog import core_text

log = logging.getLogger(__name__)

# The message of the download being built in this context, for the patched handler below;
# asyncio.to_thread copies the context into the worker, so the holder is shared with it.
_FAILURE: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "emoscope_download", default=None
)
FAILED = "The file could not be built; the server log has the details. Try again, or tell an admin."
EXCEL_CSV = "excel"  # CSV with a UTF-8 byte-order mark: what Excel on Windows reads as UTF-8


def file_name(what: str, fmt: str) -> str:
    return f"emoscope-{what}.{'csv' if fmt == EXCEL_CSV else fmt}"


def export_file(sign_in: auth.SignIn | None, what: str, fmt: str, model_key: str,
                where: ClipFilter, lang: str = "en") -> Callable[[], BinaryIO]:  # fmt: skip
    """A download's deferred data: on click, check the visitor's rights now, COPY into a temp
    file and hand it over open (unlinked at once, so nothing stays on disk); audited either way.
    `fmt` is csv, parquet or EXCEL_CSV; messages for the visitor are in `lang` (the page's).
    """
    bom = fmt == EXCEL_CSV
    written = "csv" if bom else fmt
    detail = (
        f"{what}.{written}{' (BOM)' if bom else ''}, {model_key}, {audit.describe_filter(where)}"
    )

    def _tell(message: str) -> None:
        _tell_visitor(core_text(message, lang, lead_in=True))

    def build() -> BinaryIO:
        try:
            principal = auth.principal_now(sign_in)  # the rights of this moment, not the page's
            require(principal, "export")
        except EmoScopeError as exc:
            _tell(str(exc))
            raise
        s = resources.store()
        try:
            path = export.export_to_temp(s, what, written, model_key, where, bom)
        except Exception as exc:
            message = str(exc) if isinstance(exc, EmoScopeError) else FAILED
            _audit_failure(principal.email, detail, message)
            _tell(resources.for_visitor(message))
            raise
        handle = path.open("rb")
        path.unlink()
        path.parent.rmdir()
        try:
            audit.record(s, principal.email, "export", detail)  # no file without its audit row
        except Exception as exc:
            handle.close()
            _tell(resources.for_visitor(str(exc)) if isinstance(exc, EmoScopeError) else FAILED)
            raise
        return handle

    return build


def _audit_failure(user: str, detail: str, message: str) -> None:
    try:
        audit.record(resources.store(), user, "export", f"{detail}; failed: {message}")
    except Exception:  # the failure may be the database itself: the log keeps it then
        log.exception("could not audit a failed export (%s, %s)", user, detail)


def _tell_visitor(message: str) -> None:
    holder = _FAILURE.get()
    if holder is not None:
        holder["message"] = message


def install_failure_messages() -> bool:
    """Show a download's own refusal or failure under its button (server start, once).

    Streamlit answers any exception in a deferred download with a fixed "Failed to generate
    file for download"; this wraps its handler so the message `build` left (always one written
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
