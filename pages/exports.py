"""Exports: the current selection as CSV or Parquet — clips with scores, frame curves, embeddings.

Opening the page only counts rows (one SQL aggregate each). A file is written by DuckDB's COPY
into a temporary file when its download button is clicked, and served from that file; the
visitor's rights are checked at that click, not when the page was drawn (dashboard.downloads).
"""

import streamlit as st

from core.store.export import FORMATS
from dashboard import auth, downloads, widgets

model_key, where = widgets.results_page("💾 Exports", "results to export")
st.caption(
    "Exports follow the sidebar filters. Parquet keeps types (timestamps, lists); CSV opens anywhere."
    " Each file is built when you click its button."
)
descriptions = {
    "clips": "one row per clip and track: metadata, 9 scores, top emotion, confidence",
    "frames": "one row per 20 ms frame: time_s and 9 probabilities (clips analysed with 'frame')",
    "embeddings": "one row per clip and track: the model's embedding (CSV: emb_0 … emb_D-1)",
}
sign_in = auth.current_sign_in()  # each click checks this sign-in's rights again, and audits
counts = widgets.run_safely(lambda: downloads.export_rows(model_key, where))
if counts is None:
    st.stop()
for what, text in descriptions.items():
    st.subheader(what)
    st.caption(text)
    rows = counts[what]
    for column, fmt in zip(st.columns(len(FORMATS)), FORMATS, strict=True):
        column.download_button(
            f"{what}.{fmt} ({rows:,} rows)", downloads.export_file(sign_in, what, fmt, model_key, where),
            f"emoscope-{what}.{fmt}", disabled=rows == 0, key=f"{what}-{fmt}",
            mime="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
        )  # fmt: skip
