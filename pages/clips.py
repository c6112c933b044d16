"""Clips: a filterable table of every clip with its 9 scores; a selected row opens the clip.

The table is searched, sorted and paged in the database (500 rows a page); the page never holds
the corpus.
"""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.curves import curve_frame, dominant_segments, smooth_curve
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.store.aggregates import PAGE_ROWS, ClipQuery
from dashboard import (
    charts,
    cluster_lists,
    curve_charts,
    i18n,
    reads,
    similar,
    state,
    transcript_view,
    widgets,
)
from dashboard.i18n import N_, _
from dashboard.text import literal, literal_table

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
summary, shown = reads.clip_table(
    model_key, ClipQuery(where, search, order_by, descending, page - 1)
)
pages = max(1, -(-summary.rows // PAGE_ROWS))
if page > pages:  # a shared link to a page the current filters no longer reach
    page = pages
    shown = reads.clip_page(model_key, ClipQuery(where, search, order_by, descending, page - 1))
state.put(q=search.strip() or None, said=said or None, sort=None if order_by == "source_name" else order_by,
          desc="1" if descending else None, page=None if page == 1 else page)  # fmt: skip
mean = "—" if summary.mean_confidence is None else i18n.percent(summary.mean_confidence)
st.caption(_("Clips (tracks) matching the filters: {rows} · recordings: {recordings} · mean confidence "
             "{mean} · page {page} of {pages} (rows shown: {shown})").format(
    rows=i18n.number(summary.rows), recordings=i18n.number(summary.recordings), mean=mean,
    page=page, pages=i18n.number(pages), shown=len(shown)))  # fmt: skip
if summary.rows == 0:
    st.warning(_("No clip matches these filters; widen them in the sidebar."))
    st.stop()

# A clip opened from a link or a row shows first, its list right under it (#30); filled below.
detail = st.container()
columns = ["source_name", "corpus", "track", "agent", "recorded_at", "duration_s", "top_label",
           "confidence", *SCORE_COLUMNS]  # fmt: skip
if said:  # the line that said it, and when
    lines = reads.said_lines(said, tuple(zip(shown.clip_id, shown.track, strict=True)))
    shown = shown.merge(lines.rename(columns={"start_s": "said_at_s", "text": "said_line"})
                        .drop(columns=["end_s"]), on=["clip_id", "track"], how="left")  # fmt: skip
    columns = ["source_name", "said_at_s", "said_line", *columns[1:]]
table = st.dataframe(widgets.emotions_shown(shown[columns]), hide_index=True, column_config=widgets.clip_columns(columns), on_select="rerun",
                     selection_mode="single-row", key="clip_table", placeholder="—")  # fmt: skip
picked = table.selection.rows
if picked:
    state.put(clip=shown.clip_id.iloc[picked[0]], track=shown.track.iloc[picked[0]])
wanted = state.get_str("clip")
selected = shown[(shown.clip_id == wanted) & (shown.track == state.get_str("track", "mix"))]
if selected.empty and wanted:  # a shared link to a clip on another page of the table
    selected = reads.clip_page(model_key, ClipQuery(replace(where, clip_ids=(wanted,))))
    selected = selected[selected.track == state.get_str("track", "mix")]
if selected.empty:
    st.info(_("Select a row to open the clip."))
    st.stop()

with detail:
    row = selected.iloc[0]
    st.subheader(literal(row.source_name + ("" if row.track == "mix" else f" · {row.track}")))
    untrained = bool(reads.model_info(model_key).untrained)
    left, right = st.columns([3, 2])
    with left:
        widgets.top_result(row.top_label, row.confidence, untrained)
        player = st.container()  # filled below: a picked line of the transcript moves it
        st.plotly_chart(charts.score_bars(row, lang=lang), key="clip_scores")
    with right:
        facts = {_("corpus"): row.corpus, _("agent"): row.agent, _("recorded at"): row.recorded_at,
                 _("speaker"): row.speaker, _("tags"): ", ".join(row.tags) if row.tags is not None else "",
                 _("duration"): f"{row.duration_s:.2f} s", _("source"): f"{row.codec}, {row.source_rate_hz} Hz, "
                 f"{row.channels} ch", _("clip id"): row.clip_id[:16]}  # fmt: skip
        # st.table renders cells as Markdown: names (corpus, agent, tags …) go in as literal text.
        st.table(literal_table(pd.DataFrame({"": [str(v) if v is not None else "—" for v in facts.values()]},
                                            index=list(facts))))  # fmt: skip
    windows = reads.segments(row.clip_id, model_key, row.track, float(row.duration_s))
    if not windows.empty:
        st.caption(_("Long recording: scored in {n} windows of 30 s (5 s overlap); its scores are the "
                     "duration-weighted aggregate of the whole curve.").format(n=len(windows)))  # fmt: skip
        st.dataframe(widgets.emotions_shown(windows.drop(columns=["scores"]).round(2)), hide_index=True,
                     key="segments", column_config={"segment": _("segment"), "start_s": _("from (s)"),
                                                    "end_s": _("to (s)"), "top_label": _("top emotion"),
                                                    "confidence": _("confidence")}, placeholder="—")  # fmt: skip
    lines = reads.transcript(row.clip_id, row.track)
    line = None
    if not lines.empty:
        st.caption(_("What was said (SenseVoice, with its tags) and emotion2vec's top emotion over "
                     "each line; pick a line to play from it"))  # fmt: skip
        line = transcript_view.table(lines, "transcript")
    if row.source_path and Path(row.source_path).exists():
        player.audio(row.source_path, start_time=int(transcript_view.start_of(lines, line) or 0))
    else:
        player.caption(_("The audio file is no longer at its recorded path; scores remain."))
    logits = reads.frame_logits(row.clip_id, model_key, row.track)
    if logits is None:
        st.caption(_("No frame curve stored for this clip: analyse it with granularity 'frame'."))
    else:
        curve = curve_frame(smooth_curve(logits, 25))
        widgets.echart(curve_charts.curve_chart(curve, EMOTIONS, True, dominant_segments(curve), _("emotion over time (0.5 s smoothing)"), lang),
                       key="clip_curve")  # fmt: skip
        st.page_link(st.session_state["pages"]["frames"], label=_("Open in Frame curves"), icon="📈",
                     query_params={"clip": row.clip_id, "track": row.track, "model": model_key})  # fmt: skip
    st.caption(_("The list of clips is right below: pick another row to open it."))
    st.divider()
similar.similar_section(model_key, replace(where, cluster=None), row.clip_id, row.track)
