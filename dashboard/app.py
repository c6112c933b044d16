"""EmoScope dashboard entry point: `streamlit run dashboard/app.py`."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from dashboard import data

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="EmoScope", page_icon="🎙️", layout="wide")

PAGES = Path(__file__).resolve().parents[1] / "pages"
# The Overview is the landing page; with an empty database it says to start on Upload.
pages = {
    "overview": st.Page(PAGES / "overview.py", title="Overview", icon="📊", default=True),
    "upload": st.Page(PAGES / "upload.py", title="Upload & analyse", icon="⬆️", url_path="upload"),
    "clips": st.Page(PAGES / "clips.py", title="Clips", icon="🗂️", url_path="clips"),
    "frames": st.Page(PAGES / "frames.py", title="Frame curves", icon="📈", url_path="frames"),
    "clusters": st.Page(PAGES / "clusters.py", title="Clusters", icon="🧭", url_path="clusters"),
    "trends": st.Page(PAGES / "trends.py", title="Agent trends", icon="📅", url_path="trends"),
    "exports": st.Page(PAGES / "exports.py", title="Exports", icon="💾", url_path="exports"),
}
st.session_state["pages"] = pages
navigation = st.navigation(list(pages.values()))
st.sidebar.title("🎙️ EmoScope")
st.sidebar.caption(f"Database: `{data.store().path}`")
navigation.run()
