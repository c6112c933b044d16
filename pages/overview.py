"""Overview: volume, emotion mix, negative share, what changed per agent, and data quality."""

import streamlit as st

from core.analysis.overview import (
    ALPHA,
    LOW_CONFIDENCE,
    MIN_N,
    NEGATIVE,
    TEST_NAME,
    drill_down,
    negative_change,
    negative_shares,
)
from core.model.labels import EMOJI, UNTRAINED_LABEL
from dashboard import charts_overview, data, state, widgets
from dashboard.text import literal

PERIODS = ["day", "week", "month"]
SHOWN_SHIFTS = 15

model_key, where = widgets.results_page("📊 Overview", "results")
period = st.radio("Period", PERIODS, horizontal=True,
                  index=PERIODS.index(state.get_str("period", "week", PERIODS)), key=state.key("period"))  # fmt: skip
state.put(period=period)
result = widgets.run_safely(lambda: data.overview(model_key, where, period))
if result is None:
    st.stop()
volume, pages = result.volume, st.session_state["pages"]
if volume.tracks == 0:
    st.warning("No clip matches these filters; widen them in the sidebar.")
    st.stop()

st.caption(
    "Counted: **recordings** (each audio file once, even when it is in several corpora) and "
    "**tracks** (scored channels: a split stereo call has two). Shares count tracks."
)
cells = st.columns(5)
cells[0].metric("Recordings", f"{volume.recordings:,}")
cells[1].metric("Tracks", f"{volume.tracks:,}")
cells[2].metric("Audio", charts_overview.audio_text(volume.hours * 3600))
cells[3].metric("Agents", f"{volume.agents:,}")
if volume.first_at is not None:  # two dates do not fit a metric's width
    cells[4].markdown(
        f"Recorded  \n**{volume.first_at:%Y-%m-%d}**  \nto **{volume.last_at:%Y-%m-%d}**"
    )
if volume.undated_tracks:
    st.caption(f"{volume.undated_tracks:,} tracks have no recording date: they count in the "
               "totals and the overall mix, not in any period.")  # fmt: skip

latest, previous = negative_change(result)
negative = " + ".join(NEGATIVE)
if latest is None:
    st.info("No track of this selection has a recording date, so there are no periods to "
            "compare. Add dates with a manifest CSV or a path pattern.")  # fmt: skip
else:
    delta = (
        None if previous is None else f"{(latest - previous) * 100:+.1f} pts vs previous {period}"
    )
    st.metric(f"Negative share ({negative}), {period} of {result.latest_start:%Y-%m-%d}",
              f"{latest:.1%}", delta=delta, delta_color="inverse")  # fmt: skip
    if previous is None:
        st.caption(f"No tracks in the previous {period} ({result.previous_start:%Y-%m-%d}): "
                   "no change to show.")  # fmt: skip

left, right = st.columns(2)
with left:
    widgets.echart(charts_overview.mix_bars(result.mix, "Emotion mix, all tracks"), key="mix")
if latest is not None:
    with right:
        widgets.echart(charts_overview.mix_over_time(result.mix, period, f"Mix per {period}"),
                       key="mix_time")  # fmt: skip
    widgets.echart(charts_overview.negative_line(negative_shares(result.mix), period,
                   f"Negative share per {period}"), key="negative")  # fmt: skip

st.subheader("What changed")
if latest is not None:
    st.markdown(
        f"Each agent's share of each top emotion in the latest {period} "
        f"({result.latest_start:%Y-%m-%d} to {result.latest_end:%Y-%m-%d}) against the same "
        f"agent's earlier {period}s. **Test:** {TEST_NAME}; a shift is flagged when p < {ALPHA} "
        f"and both the latest {period} and the baseline hold at least {MIN_N} tracks."
    )
    st.page_link(pages["clips"], label=f"Clips of the latest {period}", icon="🗂️",
                 query_params={"from": result.latest_start.isoformat(),
                               "to": result.latest_end.isoformat(), "model": model_key})  # fmt: skip
shifts = result.shifts
flagged, tested = shifts[shifts.flagged], int(shifts.tested.sum())
st.caption(f"{tested} of {len(shifts)} agent × emotion pairs had enough tracks to test; "
           f"{len(flagged)} flagged. At p < {ALPHA}, about {tested * ALPHA:.1f} would be flagged "
           f"by chance alone. The latest {period} may still be in progress. With split calls, "
           "pick one role in the sidebar to compare like with like.")  # fmt: skip
for row in flagged.head(SHOWN_SHIFTS).itertuples():
    text, clips_link, trends_link = st.columns([6, 1, 1], vertical_alignment="center")
    text.text(  # st.text: an agent name is whatever the metadata said, shown exactly as typed
        f"{row.agent} · {EMOJI[row.emotion]} {row.emotion}: {row.share_latest:.0%} of "
        f"{row.n_latest} tracks vs {row.share_base:.0%} of {row.n_base} before "
        f"({row.change * 100:+.0f} pts, p = {row.p:.1e})"
    )
    links = drill_down(result, row.agent, row.emotion, model_key)
    clips_link.page_link(pages["clips"], label="Clips", icon="🗂️", query_params=links["clips"])
    trends_link.page_link(pages["trends"], label="Trend", icon="📅", query_params=links["trends"])
if len(flagged) > SHOWN_SHIFTS:
    st.caption(f"{len(flagged) - SHOWN_SHIFTS} more flagged shifts in the table below.")
if latest is not None and flagged.empty:
    st.info(f"No agent × emotion shift in the latest {period} passes the test.")
# Drawn when opened: a closed expander still builds its grid, which cost a fresh browser 0.2 s.
pairs = st.expander("Every agent × emotion pair of the latest period", key=state.key("pairs"),
                    expanded=state.get_str("pairs") == "1", on_change="rerun")  # fmt: skip
state.put(pairs="1" if pairs.open else None)
if pairs.open:
    pairs.dataframe(shifts, hide_index=True, key="shifts", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in ("share_latest", "share_base", "change")})  # fmt: skip

info = data.model_info(model_key)
model = f"{info.model_id} ({UNTRAINED_LABEL})" if bool(info.untrained) else info.model_id
st.caption(
    f"**Data quality:** {volume.unclear_share:.1%} of tracks have top label other or unknown · "
    f"{volume.low_confidence_share:.1%} have confidence below {LOW_CONFIDENCE} · model "
    f"{literal(model)}, revision {literal(info.revision[:12])}"
)
