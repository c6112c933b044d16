"""Clips: the open clip, drawn above the table (#30): its scores and facts, the windows of a long
recording, what was said, the player, the frame curve and its similar recordings (#27)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.curves import curve_frame, dominant_segments, smooth_curve
from core.model.labels import EMOTIONS
from core.records import ClipFilter
from dashboard import curve_charts, i18n, reads, score_charts, similar, transcript_view, widgets
from dashboard.i18n import _
from dashboard.text import literal, literal_table


def draw(model_key: str, where: ClipFilter, row: pd.Series) -> None:
    """The open clip: scores, facts, windows, transcript, player, curve and its similar list."""
    lang = i18n.language()
    st.subheader(literal(row.source_name + ("" if row.track == "mix" else f" · {row.track}")))
    untrained = bool(reads.model_info(model_key).untrained)
    left, right = st.columns([3, 2])
    with left:
        widgets.top_result(row.top_label, row.confidence, untrained)
        player = st.container()  # filled below: a picked line of the transcript moves it
        widgets.echart(score_charts.score_bars(row, lang=lang), key="clip_scores")
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
    similar.similar_section(model_key, replace(where, cluster=None), row.clip_id, row.track)
    st.caption(_("The list of clips is right below: pick another row to open it."))
    st.divider()
