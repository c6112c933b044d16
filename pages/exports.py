"""Exports: the current selection as CSV or Parquet — clips with scores, frame curves, embeddings.

Opening the page only counts rows (one SQL aggregate each). A file's button writes it in the
background (DuckDB's COPY into a temporary file, its rows counted as they are written): a bar
shows the rows written of the rows selected and the time taken while every other page stays
usable, then a download button serves the file from disk. The visitor's rights are checked at
each click, not when the page was drawn (dashboard.downloads); the file goes when the session
moves on (dashboard.export_runs).
"""

import streamlit as st

from core.jobs import JobState
from core.store.export import FORMATS
from dashboard import auth, downloads, export_runs, i18n, resources, widgets
from dashboard.i18n import N_, _, ngettext

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
run = export_runs.current(model_key, where)  # this session's export of this selection
snap = run.state() if run else None
busy = snap is not None and not snap.finished


def progress_text(request: downloads.ExportRequest, state: JobState) -> str:
    """The bar's line: rows written of the rows selected, and the time taken."""
    seconds = f"{state.elapsed_s:.0f}"
    if state.done == 0:  # DuckDB is still selecting (and sorting) the rows
        return _("{file}: selecting the rows… · {seconds} s").format(
            file=request.shown_name, seconds=seconds
        )
    return ngettext("{file}: {done} of {total} row written · {seconds} s",
                    "{file}: {done} of {total} rows written · {seconds} s", state.total).format(
        file=request.shown_name, done=i18n.number(state.done), total=i18n.number(state.total),
        seconds=seconds)  # fmt: skip


@st.fragment(run_every=1.0)
def export_progress(running: export_runs.SessionExport) -> None:
    """Polls this session's export; the whole page reruns once it has finished."""
    state = running.state()
    if state is None or state.finished:
        st.rerun(scope="app")
    st.progress(state.fraction, progress_text(running.request, state))
    text, stop = st.columns([5, 1])
    text.caption(_("Writing in the background: other pages stay usable, and the download "
                   "button shows here when the file is ready."))  # fmt: skip
    if stop.button(_("Cancel"), key="export-cancel"):
        export_runs.discard()
        st.rerun(scope="app")


def finished(request: downloads.ExportRequest, state: JobState) -> None:
    """The finished export: its download button, or why there is none."""
    if state.error:
        shown = st.info if state.error == downloads.CANCELLED else st.error
        shown(i18n.error(resources.for_visitor(state.error)))
        return
    result = state.result
    st.success(ngettext("{file} is ready: {rows} row, {size} MB, written in {seconds} s.",
                        "{file} is ready: {rows} rows, {size} MB, written in {seconds} s.",
                        result.rows).format(
        file=request.shown_name, rows=i18n.number(result.rows),
        size=i18n.number(result.size / 1e6, 1), seconds=f"{state.elapsed_s:.0f}"))  # fmt: skip
    name = downloads.file_name(request.what, request.fmt)
    widgets.download_button(
        st, _("Download {file}").format(file=name),
        downloads.served(sign_in, result, i18n.language()),
        name, key="export-download", type="primary", icon=":material/download:",
        mime="text/csv" if request.written == "csv" else "application/vnd.apache.parquet",
    )  # fmt: skip


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
        if column.button(label, key=f"{what}-{fmt}", disabled=rows == 0 or busy):
            request = downloads.ExportRequest(what, built, model_key, where, rows)
            if widgets.run_safely(lambda r=request: export_runs.begin(sign_in, r)):
                st.rerun()
    if run is not None and snap is not None and run.request.what == what:
        if busy:
            export_progress(run)
        else:
            finished(run.request, snap)
