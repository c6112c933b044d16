"""EmoScope dashboard entry point: `python -m dashboard.serve` (`streamlit run` works too)."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from core.errors import StoreError
from core.store.check import WHAT_TO_DO
from dashboard import auth, i18n, resources
from dashboard.i18n import _

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="EmoScope", page_icon="🎙️", layout="wide")
i18n.use_language()  # ?lang=, else the browser's, else EMOSCOPE_LANGUAGE: before any text


def database_problem(exc: Exception, path: Path) -> str | None:
    """One line for a visitor when the database file is damaged or unusable, else None.

    It names the file, never its folder: a visitor learns nothing about the server's disks.
    """
    text = resources.for_visitor(str(exc)).splitlines()[0] if str(exc) else ""
    if isinstance(exc, StoreError):
        return _("Database {name}: {problem}").format(name=path.name, problem=i18n.error(text))
    if "Corrupt database file" in text or type(exc).__name__ == "IOException":  # from duckdb
        return _("Database {name} is damaged ({problem}); {what_to_do}.").format(
            name=path.name, problem=text, what_to_do=WHAT_TO_DO
        )
    return None


def admitted_visitor():
    """The gate (dashboard/auth.py): sign-in screen or refusal unless admitted, banner if open."""
    try:
        return auth.gate()  # reads roles from the database only after the visitor signed in
    except Exception as exc:
        line = database_problem(exc, resources.store().path)
        if line is None:
            raise
        st.error(line)
        st.stop()


# Before any page: an anonymous visitor gets the sign-in screen and nothing is read for them.
visitor = admitted_visitor()
PAGES = Path(__file__).resolve().parents[1] / "pages"
# The Overview is the landing page; with an empty database it says to start on Upload.
pages = {
    "overview": st.Page(PAGES / "overview.py", title=_("Overview"), icon="📊", default=True),
    "upload": st.Page(
        PAGES / "upload.py", title=_("Upload & analyse"), icon="⬆️", url_path="upload"
    ),
    "clips": st.Page(PAGES / "clips.py", title=_("Clips"), icon="🗂️", url_path="clips"),
    "frames": st.Page(PAGES / "frames.py", title=_("Frame curves"), icon="📈", url_path="frames"),
    "clusters": st.Page(PAGES / "clusters.py", title=_("Clusters"), icon="🧭", url_path="clusters"),
    "trends": st.Page(PAGES / "trends.py", title=_("Agent trends"), icon="📅", url_path="trends"),
    "exports": st.Page(PAGES / "exports.py", title=_("Exports"), icon="💾", url_path="exports"),
    "check": st.Page(PAGES / "model_check.py", title=_("Model check"), icon="🎯", url_path="check"),
    "tokens": st.Page(PAGES / "tokens.py", title=_("API tokens"), icon="🔑", url_path="tokens"),
}
# Pages a role may not use stay out of the menu and out of page links; their URL still answers,
# with the refusal from core.access.principal (and the actions behind them refuse on their own too).
hidden = {"upload": not visitor.may("analyse"), "admin": not visitor.may("read_audit")}
pages["admin"] = st.Page(PAGES / "admin.py", title=_("Admin"), icon="🛡️", url_path="admin",
                         visibility="hidden" if hidden["admin"] else "visible")  # fmt: skip
if hidden["upload"]:
    pages["upload"] = st.Page(PAGES / "upload.py", title=_("Upload & analyse"), icon="⬆️",
                              url_path="upload", visibility="hidden")  # fmt: skip
st.session_state["pages"] = {name: p for name, p in pages.items() if not hidden.get(name)}
navigation = st.navigation(list(pages.values()))
st.session_state["page"] = navigation.url_path  # widget keys are per page (dashboard.state.key)
st.sidebar.title("🎙️ EmoScope")
i18n.switch()
st.sidebar.caption(
    _("Database: `{name}`").format(name=resources.store().path.name)
)  # its name: paths stay private
auth.account_box(visitor)
try:
    navigation.run()
except Exception as exc:  # only a damaged or unusable database is handled here
    line = database_problem(exc, resources.store().path)
    if line is None:
        raise  # a bug: Streamlit logs it and shows visitors no details (showErrorDetails)
    st.error(line)
