"""Exports: the current selection as CSV or Parquet — clips with scores, frame curves, embeddings."""

import streamlit as st

from dashboard import data, widgets

model_key, where = widgets.results_page("💾 Exports", "results to export")
st.caption(
    "Exports follow the sidebar filters. Parquet keeps types (timestamps, lists); CSV opens anywhere."
)
descriptions = {
    "clips": "one row per clip and track: metadata, 9 scores, top emotion, confidence",
    "frames": "one row per 20 ms frame: time_s and 9 probabilities (clips analysed with 'frame')",
    "embeddings": "one row per clip and track: the model's embedding (CSV: emb_0 … emb_D-1)",
}
for what, text in descriptions.items():
    st.subheader(what)
    st.caption(text)
    columns = st.columns(2)
    for column, fmt in zip(columns, ("csv", "parquet"), strict=True):
        payload = widgets.run_safely(
            lambda w=what, f=fmt: data.export_bytes(w, f, model_key, where)
        )
        if payload is None:
            continue
        blob, rows = payload
        column.download_button(f"{what}.{fmt} ({rows} rows)", blob, f"emoscope-{what}.{fmt}",
                               disabled=rows == 0, key=f"{what}-{fmt}")  # fmt: skip
