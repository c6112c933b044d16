"""Agent trends: emotion share and confidence per agent and period, with drill-down to clips.

The agents x periods table is aggregated in DuckDB (date_trunc by day, week or month); the page
receives one row per cell, never the clips. Its first view is tables only (the shaded grid, the
cells' figures): a plotly figure costs a fresh browser about a second, so the comparison chart
waits for the toggle and the clip list for a chosen cell or agent.
"""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core.analysis.curves import leading_emotion, period_length
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.store.aggregates import LOW_N, PERIODS, ClipQuery
from dashboard import attention as attention_ui
from dashboard import charts, i18n, reads, state, tables, widgets
from dashboard.i18n import N_, _
from dashboard.text import literal

HEATMAP_AGENTS = 30  # a heatmap taller than this is unreadable; the busiest agents are shown

model_key, where = widgets.results_page("📅 " + _("Agent trends"), N_("agent trends"))
lang = i18n.language()
voice = attention_ui.voice(where)  # the customer's voice of split calls by default (#30)
a, b = st.columns(2)
period = a.radio(
    _("Period"),
    list(PERIODS),
    format_func=i18n.fixed(i18n.period_name),
    index=list(PERIODS).index(state.get_str("period", "week", list(PERIODS))),
    horizontal=True,
    key=state.key("period"),
)
trends = attention_ui.trends(model_key, voice.where, period)
if trends.empty:
    st.info(_("No clip of this selection has both an agent and a recording date. Add them with a "
              "manifest CSV or a path pattern such as {example}.").format(
                example="`{agent}/{recorded_at}_*.wav`"))  # fmt: skip
    st.stop()
focus = state.get_str("focus", leading_emotion(trends), EMOTIONS)
emotion = b.selectbox(_("Emotion"), EMOTIONS, index=EMOTIONS.index(focus),
                      format_func=i18n.fixed(lambda e: i18n.emotion(e, emoji=True)), key=state.key("focus"))  # fmt: skip
state.put(period=period, focus=emotion)
# Every agent ranked (#30), drawn when opened like every big table here; a link opens it.
rank_box = st.expander("🏆 " + _("Rank every agent by an emotion"), key=state.key("ranking"),
                       expanded=state.get_str("ranking") == "1", on_change="rerun")  # fmt: skip
state.put(ranking="1" if rank_box.open else None)
ranked = None
if rank_box.open:
    with rank_box:
        ranked = attention_ui.ranking(trends, period, emotion)
st.caption(_("Counting {voice}.").format(voice=literal(voice.text)))
st.caption(_("Cells with fewer than {n} clips say “{low}”: shown, not hidden. Click a cell to list "
             "its clips.").format(n=LOW_N, low=_("low")))  # fmt: skip
busiest = trends.groupby("agent").n.sum().sort_values(ascending=False, kind="stable")
heat_agents = sorted(busiest.index[:HEATMAP_AGENTS])
centre_agent, centre = state.get_str("da"), state.get_date("at")  # a drill-down's question
if centre_agent in busiest.index and centre_agent not in heat_agents:
    heat_agents = sorted([*heat_agents[: HEATMAP_AGENTS - 1], centre_agent])
if len(busiest) > HEATMAP_AGENTS:
    st.caption(_("The {n} agents with the most clips of {all}; pick agents in the sidebar to see "
                 "others.").format(n=HEATMAP_AGENTS, all=i18n.number(len(busiest))))  # fmt: skip
heat = trends[trends.agent.isin(heat_agents)]
if centre is not None:  # the linked period in view: a few periods either side, not all of them
    around = pd.Timestamp(centre)
    steps = period_length(period)
    heat = heat[(heat.period >= around - 8 * steps) & (heat.period <= around + 3 * steps)]
    st.caption((_("Centred on the {period} of {start} and {agent}") if centre_agent
                else _("Centred on the {period} of {start}")).format(
                    period=i18n.period_name(period), start=f"{centre:%Y-%m-%d}",
                    agent=centre_agent or "")
               + _("; clear the sidebar's agent filter or open the page from the menu to see every "
                   "period."))  # fmt: skip
st.markdown(_("**share of {emotion} clips** per agent and {period}").format(
    emotion=i18n.emotion(emotion, emoji=True), period=i18n.period_name(period)))  # fmt: skip
# A styled grid, not a plotly heatmap: a fresh browser opens it without loading plotly.js.
grid = tables.trend_grid(heat, emotion, _("low"))
event = st.dataframe(
    grid, key="heatmap", on_select="rerun", selection_mode="single-cell", placeholder="—"
)
clicked = widgets.heatmap_cell(event, list(grid.data.index))
if ranked is not None:  # a row of the ranking: its agent and period
    clicked = (ranked[0], ranked[1].isoformat())

agents = sorted(trends.agent.unique())
# The comparison chart is drawn on request: it is the page's only plotly figure (see above).
# A link that names agents to compare opens with it.
if st.toggle(_("Compare agents over time"), value=bool(state.get_list("cmp", agents)),
             key=state.key("lines")):  # fmt: skip
    picked = st.multiselect(
        _("Compare agents (2–5)"),
        agents,
        default=state.get_list("cmp", agents)[:5] or agents[:3],
        max_selections=5,
        placeholder=_("Choose options"),
        key=state.key("cmp"),
    )
    state.put(cmp=picked)
    if picked:
        st.plotly_chart(charts.agent_lines(trends, emotion, picked, lang), key="compare")
else:
    state.put(cmp=None)

st.subheader(_("Drill down"))
c, d = st.columns(2)
# Nothing is listed until a cell or an agent is chosen: a first view needs no clip query.
widgets.keep_choice("drill_agent", agents, wanted=clicked and clicked[0],
                    initial=state.get_str("da"), fallback=None)  # fmt: skip
agent = c.selectbox(
    _("Agent"), agents, key="drill_agent", index=None, placeholder=_("Choose an agent")
)
periods = [p.strftime("%Y-%m-%d") for p in trends[trends.agent == agent].period]
widgets.keep_choice("drill_period", periods, wanted=clicked and clicked[1],
                    initial=state.get_str("dp"), fallback=periods[-1] if periods else None)  # fmt: skip
chosen = d.selectbox(_("Period starting"), periods, key="drill_period", disabled=agent is None,
                     help=_("An agent's latest period is chosen first."))  # fmt: skip
state.put(da=agent, dp=chosen)
if clicked and clicked[0] == agent and clicked[1] not in periods:  # an empty cell of the grid
    st.caption(_("{agent} has no clips in the {period} starting {start}; showing the {period} "
                 "starting {chosen}.").format(agent=agent, period=i18n.period_name(period),
                                              start=clicked[1], chosen=chosen))  # fmt: skip
if agent is None or chosen is None:
    st.caption(_("Click a cell of the grid above, or choose an agent, to list the clips."))
else:
    start = pd.Timestamp(chosen)
    end = start + period_length(period)
    cell = reads.clip_page(
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
    heat,  # every cell of the grid with its n, all nine shares and the mean confidence
    hide_index=True,
    column_config={
        "agent": _("agent"),
        "period": st.column_config.DateColumn(_("period"), format="YYYY-MM-DD"),
        "mean_confidence": st.column_config.NumberColumn(_("mean confidence")),
        "low_n": _("low"),
        **{e: st.column_config.NumberColumn(i18n.emotion(e), format="percent") for e in EMOTIONS},
    },
    placeholder="—",
)
