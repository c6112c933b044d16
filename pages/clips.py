"""Clips: a filterable table of every clip with its 9 scores; a selected row opens the clip."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.analytics import curve_frame, dominant_segments, smooth_curve
from core.labels import EMOTIONS, SCORE_COLUMNS
from dashboard import charts, data, state, widgets

model_key, where = widgets.results_page("🗂️ Clips", "clips")
clips = data.clips(model_key, where)
st.caption(f"{len(clips)} clips (tracks) match the filters.")
if clips.empty:
    st.warning("No clip matches these filters; widen them in the sidebar.")
    st.stop()

columns = ["source_name", "corpus", "track", "agent", "recorded_at", "duration_s", "top_label",
           "confidence", *SCORE_COLUMNS]  # fmt: skip
config = {c: st.column_config.ProgressColumn(c.removeprefix("score_"), format="percent", min_value=0, max_value=1)
          for c in [*SCORE_COLUMNS, "confidence"]}  # fmt: skip
config["duration_s"] = st.column_config.NumberColumn("duration (s)", format="%.2f")
table = st.dataframe(clips[columns], hide_index=True, column_config=config, on_select="rerun",
                     selection_mode="single-row", key="clip_table")  # fmt: skip
picked = table.selection.rows
if picked:
    state.put(clip=clips.clip_id.iloc[picked[0]], track=clips.track.iloc[picked[0]])
selected = clips[
    (clips.clip_id == state.get_str("clip")) & (clips.track == state.get_str("track", "mix"))
]
if selected.empty:
    st.info("Select a row to open the clip.")
    st.stop()

row = selected.iloc[0]
st.divider()
st.subheader(row.source_name + ("" if row.track == "mix" else f" · {row.track}"))
untrained = bool(data.model_info(model_key).untrained)
left, right = st.columns([3, 2])
with left:
    widgets.top_result(row.top_label, row.confidence, untrained)
    if row.source_path and Path(row.source_path).exists():
        st.audio(row.source_path)
    else:
        st.caption("The audio file is no longer at its recorded path; scores remain.")
    st.plotly_chart(charts.score_bars(row), key="clip_scores")
with right:
    facts = {"corpus": row.corpus, "agent": row.agent, "recorded at": row.recorded_at,
             "speaker": row.speaker, "tags": ", ".join(row.tags) if row.tags is not None else "",
             "duration": f"{row.duration_s:.2f} s", "source": f"{row.codec}, {row.source_rate_hz} Hz, "
             f"{row.channels} ch", "clip id": row.clip_id[:16]}  # fmt: skip
    st.table(
        pd.DataFrame(
            {"": [str(v) if v is not None else "—" for v in facts.values()]}, index=list(facts)
        )
    )
windows = data.segments(row.clip_id, model_key, row.track)
if not windows.empty:
    st.caption(f"Long recording: scored in {len(windows)} windows of 30 s (5 s overlap); its scores "
               "are the duration-weighted aggregate of the whole curve.")  # fmt: skip
    st.dataframe(windows.drop(columns=["scores"]).round(2), hide_index=True, key="segments")
logits = data.frame_logits(row.clip_id, model_key, row.track)
if logits is None:
    st.caption("No frame curve stored for this clip: analyse it with granularity 'frame'.")
else:
    curve = curve_frame(smooth_curve(logits, 25))
    st.plotly_chart(charts.curve_figure(curve, EMOTIONS, True, dominant_segments(curve), "emotion over time (0.5 s smoothing)"),
                    key="clip_curve")  # fmt: skip
    st.page_link(st.session_state["pages"]["frames"], label="Open in Frame curves", icon="📈",
                 query_params={"clip": row.clip_id, "track": row.track, "model": model_key})  # fmt: skip
