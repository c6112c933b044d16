"""Exports: the current selection as CSV or Parquet — clips with scores, frame curves, embeddings.

Opening the page only counts rows (one SQL aggregate each). A file is written by DuckDB's COPY
into a temporary file when its download button is clicked, and served from that file; the
visitor's rights are checked at that click, not when the page was drawn (dashboard.downloads).
"""

import streamlit as st

from core.store.export import FORMATS
from dashboard import auth, downloads, i18n, widgets
from dashboard.i18n import N_, _

model_key, where = widgets.results_page("💾 " + _("Exports"), N_("results to export"))
st.caption(
    _(
        "Exports follow the sidebar filters. Parquet keeps types (timestamps, lists); CSV opens "
        "anywhere. Each file is built when you click its button."
    )
)
descriptions = {
    "clips": N_("one row per clip and track: metadata, 9 scores, top emotion, confidence"),
    "frames": N_(
        "one row per 20 ms frame: time_s and 9 probabilities (clips analysed with 'frame')"
    ),
    "embeddings": N_("one row per clip and track: the model's embedding (CSV: emb_0 … emb_D-1)"),
}
titles = {"clips": N_("clips"), "frames": N_("frames"), "embeddings": N_("embeddings")}
# Excel on Windows reads a CSV without a byte-order mark in the local code page (张伟 turns into
# mojibake): "CSV for Excel" writes the mark, and is on by default when the page is in Chinese.
excel = st.toggle(
    _("CSV for Excel (UTF-8 with a byte-order mark)"), value=i18n.language() == "zh",
    key="excel-csv", help=_("Excel on Windows then reads names such as 张伟 right; other programs "
                            "read the file as before."),
)  # fmt: skip
sign_in = auth.current_sign_in()  # each click checks this sign-in's rights again, and audits
counts = widgets.run_safely(lambda: downloads.export_rows(model_key, where))
if counts is None:
    st.stop()
for what, text in descriptions.items():
    st.subheader(_(titles[what]))
    st.caption(_(text))
    rows = counts[what]
    for column, fmt in zip(st.columns(len(FORMATS)), FORMATS, strict=True):
        label = _("{file} ({rows} rows)").format(file=f"{what}.{fmt}", rows=i18n.number(rows))
        built = fmt
        if fmt == "csv" and excel:
            built = downloads.EXCEL_CSV
            label = _("{file}, CSV for Excel ({rows} rows)").format(
                file=f"{what}.csv", rows=i18n.number(rows)
            )
        column.download_button(
            label, downloads.export_file(sign_in, what, built, model_key, where, i18n.language()),
            downloads.file_name(what, built), disabled=rows == 0, key=f"{what}-{fmt}",
            mime="text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
        )  # fmt: skip
