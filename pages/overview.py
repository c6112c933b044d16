"""Overview: who needs attention first (#30), then volume, emotion mix, negative share, every
significant change per agent, and data quality."""

import pandas as pd
import streamlit as st

from core.analysis import attention as att
from core.analysis import ranking
from core.analysis.overview import NEGATIVE, negative_shares
from core.model.labels import LOW_CONFIDENCE, UNTRAINED_LABEL
from dashboard import attention as attention_ui
from dashboard import charts_overview, reads, state, widgets
from dashboard.text import literal

PERIODS = ["week", "month", "day"]

model_key, where = widgets.results_page("📊 Overview", "results")
voice = attention_ui.voice(where)
controls = st.columns([2, 5])
period = controls[0].radio("Period", PERIODS, horizontal=True,
                           index=PERIODS.index(state.get_str("period", "week", PERIODS)), key=state.key("period"))  # fmt: skip
state.put(period=period)
counts = widgets.run_safely(lambda: attention_ui.counts(model_key, voice.where, period))
if counts is None:
    st.stop()
window = attention_ui.window_picker(period, counts, controls[1])
report = att.attention(counts, window, voice.role)
tracks = voice.where.tracks
urgent, good = st.columns([3, 1], gap="large")
with urgent:
    st.subheader(f"🚩 Needs attention · {window.label}")
    if window.start is None:
        st.info("No track with an agent and a recording date: nothing to compare. Add them with "
                "a manifest CSV or a path pattern such as `{agent}/{recorded_at}_*.wav`.")  # fmt: skip
    else:
        st.caption(
            f"Agents whose negative share (angry, disgusted, fearful, sad, each and together) rose "
            f"from {window.start:%a %d %b} to {window.end:%a %d %b %Y}, against their own earlier "
            f"{period}s · counting {literal(voice.text)} · {report.tests:,} tests, each "
            f"significant when its Benjamini–Hochberg q ≤ {att.FDR} (at least {att.MIN_N} tracks "
            "both sides)"
        )
        if report.needs_attention.empty:
            st.success(f"No agent's negative share rose significantly in the {window.label}.")
        attention_ui.item_list(report.needs_attention, window, model_key, tracks, voice.role,
                               attention_ui.SHOWN, "attention")  # fmt: skip
with good:
    st.markdown("**👍 Good news**")
    if report.good_news.empty:
        st.caption("No significant fall in a negative emotion or rise in happy.")
    for row in report.good_news.head(attention_ui.GOOD_SHOWN).itertuples():
        st.caption(literal(attention_ui.item_line(row)))
        st.page_link(st.session_state["pages"]["clips"], label="Clips", icon="🗂️",
                     query_params=ranking.clips_params(row.agent, row.emotion, window, model_key, tracks))  # fmt: skip
    if len(report.good_news) > attention_ui.GOOD_SHOWN:
        st.caption(f"{len(report.good_news) - attention_ui.GOOD_SHOWN} more below.")

st.divider()
result = widgets.run_safely(lambda: reads.overview(model_key, where, period))
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

shares = negative_shares(result.mix).set_index("period_start").share
negative = " + ".join(NEGATIVE)
latest = None if window.start is None else shares.get(pd.Timestamp(window.start))
previous_start = None if window.start is None else att.shift(window.start, period, -1)
previous = None if previous_start is None else shares.get(pd.Timestamp(previous_start))
if window.start is None:
    st.info("No track of this selection has a recording date, so there are no periods to "
            "compare. Add dates with a manifest CSV or a path pattern.")  # fmt: skip
elif latest is not None:
    delta = (
        None if previous is None else f"{(latest - previous) * 100:+.1f} pts vs previous {period}"
    )
    st.metric(f"Negative share ({negative}), {window.label}, every track",
              f"{latest:.1%}", delta=delta, delta_color="inverse")  # fmt: skip
    if previous is None:
        st.caption(f"No tracks in the previous {period} ({previous_start:%Y-%m-%d}): "
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

st.subheader("Every significant change")
flagged = report.flagged
if window.start is not None:
    st.markdown(
        f"Each agent's share of each top emotion (and of the four negative ones together) in the "
        f"{window.label} ({window.start:%Y-%m-%d} to {window.end:%Y-%m-%d}) against the same "
        f"agent's earlier {period}s, counting {literal(voice.text)}. **Test:** {att.TEST_NAME}: "
        f"a change is significant when its q ≤ {att.FDR} and both sides hold at least "
        f"{att.MIN_N} tracks. Among the significant changes, at most {att.FDR:.0%} are expected "
        "to be chance."
    )
    st.page_link(st.session_state["pages"]["clips"], label=f"Clips of the {window.label}", icon="🗂️",
                 query_params={"from": window.start.isoformat(), "to": window.end.isoformat(),
                               "model": model_key, **({"role": list(tracks)} if tracks else {})})  # fmt: skip
st.caption(f"{report.tests:,} of {len(report.changes):,} agent × emotion pairs had enough tracks "
           f"to test; {len(flagged)} significant.")  # fmt: skip
if not flagged.empty:
    st.dataframe(flagged[["agent", "emotion", "share_latest", "n_latest", "share_base", "n_base",
                          "change", "p", "q"]], hide_index=True, key="flagged",
                 column_config={c: st.column_config.NumberColumn(format="percent")
                                for c in ("share_latest", "share_base", "change")})  # fmt: skip
# Drawn when opened: a closed expander still builds its grid, which cost a fresh browser 0.2 s.
pairs = st.expander("Every agent × emotion pair", key=state.key("pairs"),
                    expanded=state.get_str("pairs") == "1", on_change="rerun")  # fmt: skip
state.put(pairs="1" if pairs.open else None)
if pairs.open:
    pairs.dataframe(report.changes, hide_index=True, key="shifts", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in ("share_latest", "share_base", "change")})  # fmt: skip

info = reads.model_info(model_key)
model = f"{info.model_id} ({UNTRAINED_LABEL})" if bool(info.untrained) else info.model_id
st.caption(
    f"**Data quality:** {volume.unclear_share:.1%} of tracks have top label other or unknown · "
    f"{volume.low_confidence_share:.1%} have confidence below {LOW_CONFIDENCE} · model "
    f"{literal(model)}, revision {literal(info.revision[:12])}"
)
for row in report.data_quality.itertuples():  # other / unknown: the model's doubt, not a mood
    st.caption(literal("Data quality · " + attention_ui.item_line(row)))
