"""Agent trends: emotion share and confidence per agent and period, with drill-down to clips.

The agents x periods table is aggregated in DuckDB (date_trunc by day, week or month); the page
receives one row per cell, never the clips.
"""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.aggregates import LOW_N, PERIODS, ClipQuery
from core.analytics import leading_emotion, period_length
from core.labels import EMOJI, EMOTIONS, SCORE_COLUMNS
from dashboard import charts, data, state, widgets

HEATMAP_AGENTS = 30  # a heatmap taller than this is unreadable; the busiest agents are shown

model_key, where = widgets.results_page("📅 Agent trends", "agent trends")
a, b = st.columns(2)
period = a.radio(
    "Period",
    list(PERIODS),
    index=list(PERIODS).index(state.get_str("period", "week", list(PERIODS))),
    horizontal=True,
    key=state.key("period"),
)
trends = data.trends(model_key, where, period)
if trends.empty:
    st.info("No clip of this selection has both an agent and a recording date. Add them with a "
            "manifest CSV or a path pattern such as `{agent}/{recorded_at}_*.wav`.")  # fmt: skip
    st.stop()
focus = state.get_str("focus", leading_emotion(trends), EMOTIONS)
emotion = b.selectbox("Emotion", EMOTIONS, index=EMOTIONS.index(focus),
                      format_func=lambda e: f"{EMOJI[e]} {e}", key=state.key("focus"))  # fmt: skip
state.put(period=period, focus=emotion)
st.caption(
    f"Cells with fewer than {LOW_N} clips are marked “low” and framed in the heatmap (hollow points in the lines): shown, not hidden."
)
busiest = trends.groupby("agent").n.sum().sort_values(ascending=False, kind="stable")
heat_agents = sorted(busiest.index[:HEATMAP_AGENTS])
if len(busiest) > HEATMAP_AGENTS:
    st.caption(f"Heatmap: the {HEATMAP_AGENTS} agents with the most clips of {len(busiest):,}; "
               "pick agents in the sidebar to see others.")  # fmt: skip
heat = trends[trends.agent.isin(heat_agents)]
if heat.period.nunique() > charts.LABELLED_PERIODS:
    st.caption(f"More than {charts.LABELLED_PERIODS} periods: hover a cell for its share and n.")
chart = charts.trend_heatmap(heat, emotion)
event = st.plotly_chart(chart, key="heatmap", on_select="rerun", selection_mode="points")
clicked = widgets.heatmap_cell(event, heat_agents)

agents = sorted(trends.agent.unique())
picked = st.multiselect(
    "Compare agents (2–5)",
    agents,
    default=state.get_list("cmp", agents)[:5] or agents[:3],
    max_selections=5,
    key=state.key("cmp"),
)
state.put(cmp=picked)
if picked:
    st.plotly_chart(charts.agent_lines(trends, emotion, picked), key="compare")

st.subheader("Drill down")
st.caption("Click a heatmap cell, or pick an agent and a period.")
c, d = st.columns(2)
widgets.keep_choice(
    "drill_agent", agents, wanted=clicked and clicked[0], initial=state.get_str("da")
)
agent = c.selectbox("Agent", agents, key="drill_agent")
periods = [p.strftime("%Y-%m-%d") for p in trends[trends.agent == agent].period]
widgets.keep_choice(
    "drill_period", periods, wanted=clicked and clicked[1], initial=state.get_str("dp")
)
start = pd.Timestamp(d.selectbox("Period starting", periods, key="drill_period"))
state.put(da=agent, dp=start.strftime("%Y-%m-%d"))
end = start + period_length(period)
cell = data.clip_page(
    model_key,
    ClipQuery(replace(where, agents=(agent,), date_from=start.to_pydatetime(),
                      date_to=end.to_pydatetime()), order_by="recorded_at"),
)  # fmt: skip
widgets.clip_list(
    cell,
    ["source_name", "recorded_at", "track", "top_label", "confidence", *SCORE_COLUMNS],
    "cell",
    model_key,
)
st.dataframe(
    trends[trends.agent.isin(heat_agents)],
    hide_index=True,
    column_config={e: st.column_config.NumberColumn(format="percent") for e in EMOTIONS},
)
