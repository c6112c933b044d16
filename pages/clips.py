"""Clips: a filterable table of every clip with its 9 scores; a selected row opens the clip.

The clip a link or a row opens, and its similar recordings, are read and drawn first, above
the table (dashboard/clip_detail.py). The table is searched, sorted and paged in the database
(500 rows a page); the page never holds the corpus.
"""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.model.labels import SCORE_COLUMNS
from core.store.aggregates import PAGE_ROWS, ClipQuery
from dashboard import clip_detail, cluster_lists, i18n, reads, state, widgets
from dashboard.i18n import N_, _

model_key, where = widgets.results_page("🗂️ " + _("Clips"), N_("clips"))
where = cluster_lists.narrowed(where)  # opened by a cluster's link from Clusters
lang = i18n.language()
SORTABLE = ["source_name", "recorded_at", "duration_s", "confidence", "agent", "top_label",
            *SCORE_COLUMNS]  # fmt: skip
top = st.columns([3, 3, 2, 1, 1])
search = top[0].text_input(_("Search file names"), state.get_str("q", "") or "", key="search")
said = top[1].text_input(_("Said (words or a phrase in the transcript)"),
                         state.get_str("said", "") or "", key="said").strip()  # fmt: skip
where = replace(where, said=said)
top = [top[0], *top[2:]]
order_by = top[1].selectbox(_("Sort by"), SORTABLE, index=SORTABLE.index(
    state.get_str("sort", "source_name", SORTABLE)), key=state.key("sort"), format_func=i18n.fixed(lambda c: c if lang == "en" else widgets.column_name(c)))  # fmt: skip
order_names = {"ascending": _("ascending"), "descending": _("descending")}
descending = top[2].radio(_("Order"), ["ascending", "descending"], horizontal=False, format_func=order_names.get,
                          index=int(state.get_str("desc") == "1"), key=state.key("order")) == "descending"  # fmt: skip
page = top[3].number_input(
    _("Page"), min_value=1, value=state.get_int("page", 1, low=1, high=10**9), key=state.key("page")
)
query = ClipQuery(where, search, order_by, descending, page - 1)
counts = st.container()  # the selection's count line, written once the table is read


def read_table(query: ClipQuery) -> tuple[ClipQuery, object, pd.DataFrame]:
    """The query (its page clamped to the last one), the summary and the page's rows."""
    summary, shown = reads.clip_table(model_key, query)
    last = max(1, -(-summary.rows // PAGE_ROWS))
    if query.page + 1 > last:  # a shared link to a page the current filters no longer reach
        query = replace(query, page=last - 1)
        shown = reads.clip_page(model_key, query)
    return query, summary, shown


def open_picked_row() -> None:
    """A row picked in the table opens its clip, once per pick: the tick Streamlit keeps on the
    table (through a new sort or page too) does not take back a clip opened since from a link
    or the similar list. A pick is made on the table the last run drew, for this same query."""
    ticked = st.session_state.get("clip_table")
    rows = list(ticked["selection"]["rows"]) if ticked else []
    if rows == st.session_state.get("clips:ticked", []):
        return  # no new pick
    st.session_state["clips:ticked"] = rows
    if not rows:
        return
    shown = read_table(query)[2]
    if rows[0] < len(shown):
        state.put(clip=shown.clip_id.iloc[rows[0]], track=shown.track.iloc[rows[0]])


def opened_clip() -> pd.Series | None:
    """The clip the URL opens, as the clip view shows it under the filters; None when none is
    open or it is outside them. Read by its id (an index lookup), before the table."""
    wanted = state.get_str("clip")
    if not wanted:
        return None
    rows = reads.clip_page(model_key, ClipQuery(replace(where, clip_ids=(wanted,))))
    rows = rows[rows.track == state.get_str("track", "mix")]
    return None if rows.empty else rows.iloc[0]


# The open clip and its similar list come first, and are read first: at 1.3M tracks the table's
# sort takes most of a second, and a link to one clip should not wait for it (#27, #30).
open_picked_row()
opened = opened_clip()
if opened is not None:
    clip_detail.draw(model_key, where, opened)

query, summary, shown = read_table(query)
pages = max(1, -(-summary.rows // PAGE_ROWS))
state.put(q=search.strip() or None, said=said or None, sort=None if order_by == "source_name" else order_by,
          desc="1" if descending else None, page=None if query.page == 0 else query.page + 1)  # fmt: skip
mean = "—" if summary.mean_confidence is None else i18n.percent(summary.mean_confidence)
counts.caption(_("Clips (tracks) matching the filters: {rows} · recordings: {recordings} · mean confidence "
                 "{mean} · page {page} of {pages} (rows shown: {shown})").format(
    rows=i18n.number(summary.rows), recordings=i18n.number(summary.recordings), mean=mean,
    page=query.page + 1, pages=i18n.number(pages), shown=len(shown)))  # fmt: skip
if summary.rows == 0:
    st.warning(_("No clip matches these filters; widen them in the sidebar."))
    st.stop()

columns = ["source_name", "corpus", "track", "agent", "recorded_at", "duration_s", "top_label",
           "confidence", *SCORE_COLUMNS]  # fmt: skip
if said:  # the line that said it, and when
    lines = reads.said_lines(said, tuple(zip(shown.clip_id, shown.track, strict=True)))
    shown = shown.merge(lines.rename(columns={"start_s": "said_at_s", "text": "said_line"})
                        .drop(columns=["end_s"]), on=["clip_id", "track"], how="left")  # fmt: skip
    columns = ["source_name", "said_at_s", "said_line", *columns[1:]]
st.dataframe(widgets.emotions_shown(shown[columns]), hide_index=True, column_config=widgets.clip_columns(columns), on_select="rerun",
             selection_mode="single-row", key="clip_table", placeholder="—")  # fmt: skip
if opened is None:
    st.info(_("Select a row to open the clip."))
