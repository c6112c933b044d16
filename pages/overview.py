"""Overview: who needs attention first (#30), then volume, emotion mix, negative share, every
significant change per agent, and data quality."""

import pandas as pd
import streamlit as st

from core.analysis import attention as att
from core.analysis import ranking
from core.analysis.overview import NEGATIVE, negative_shares
from core.model.labels import LOW_CONFIDENCE, UNTRAINED_LABEL
from dashboard import attention as attention_ui
from dashboard import charts_overview, i18n, reads, state, widgets
from dashboard.i18n import N_, _, ngettext
from dashboard.text import literal

PERIODS = ["week", "month", "day"]

model_key, where = widgets.results_page("📊 " + _("Overview"), N_("results"))
voice = attention_ui.voice(where)
controls = st.columns([2, 5])
period = controls[0].radio(_("Period"), PERIODS, horizontal=True, format_func=i18n.fixed(i18n.period_name),
                           index=PERIODS.index(state.get_str("period", "week", PERIODS)), key=state.key("period"))  # fmt: skip
state.put(period=period)
counts = widgets.run_safely(lambda: attention_ui.counts(model_key, voice.where, period))
if counts is None:
    st.stop()
window = attention_ui.window_picker(period, counts, controls[1])
report = att.attention(counts, window, voice.role)
tracks = voice.where.tracks
negative_names = ", ".join(i18n.emotion(e) for e in NEGATIVE)
urgent, good = st.columns([3, 1], gap="large")
with urgent:
    st.subheader(
        "🚩 " + _("Needs attention · {window}").format(window=attention_ui.window_text(window))
    )
    if window.start is None:
        st.info(_("No track with an agent and a recording date: nothing to compare. Add them "
                  "with a manifest CSV or a path pattern such as {example}.").format(
                    example="`{agent}/{recorded_at}_*.wav`"))  # fmt: skip
    else:
        st.caption(
            _("Agents whose negative share ({negative}, each and together) rose from {start} to "
              "{end}, against their own earlier {periods} · counting {voice} · {tests} tests, "
              "each significant when its Benjamini–Hochberg q ≤ {fdr} (at least {min_n} tracks "
              "both sides)").format(
                negative=negative_names, start=i18n.day(window.start), end=i18n.day(window.end),
                periods=i18n.periods_name(period), voice=literal(voice.text),
                tests=i18n.number(report.tests), fdr=att.FDR, min_n=att.MIN_N)
        )  # fmt: skip
        if report.needs_attention.empty:
            st.success(_("No agent's negative share rose significantly in the {window}.").format(
                window=attention_ui.window_text(window)))  # fmt: skip
        attention_ui.item_list(report.needs_attention, window, model_key, tracks, voice.role,
                               attention_ui.SHOWN, "attention")  # fmt: skip
        attention_ui.said_words(report.needs_attention, window, model_key, voice.where,
                                attention_ui.SHOWN)  # fmt: skip
with good:
    st.markdown("**👍 " + _("Good news") + "**")
    if report.good_news.empty:
        st.caption(_("No significant fall in a negative emotion or rise in happy."))
    for row in report.good_news.head(attention_ui.GOOD_SHOWN).itertuples():
        st.caption(literal(attention_ui.item_line(row)))
        st.page_link(st.session_state["pages"]["clips"], label=_("Clips"), icon="🗂️",
                     query_params=ranking.clips_params(row.agent, row.emotion, window, model_key, tracks))  # fmt: skip
    if len(report.good_news) > attention_ui.GOOD_SHOWN:
        st.caption(_("{n} more below.").format(n=len(report.good_news) - attention_ui.GOOD_SHOWN))

st.divider()
result = widgets.run_safely(lambda: reads.overview(model_key, where, period))
if result is None:
    st.stop()
volume, pages = result.volume, st.session_state["pages"]
if volume.tracks == 0:
    st.warning(_("No clip matches these filters; widen them in the sidebar."))
    st.stop()

st.caption(
    _(
        "Counted: **recordings** (each audio file once, even when it is in several corpora) and "
        "**tracks** (scored channels: a split stereo call has two). Shares count tracks."
    )
)
cells = st.columns(5)
cells[0].metric(_("Recordings"), i18n.number(volume.recordings))
cells[1].metric(_("Tracks"), i18n.number(volume.tracks))
cells[2].metric(_("Audio"), charts_overview.audio_text(volume.hours * 3600, i18n.language()))
cells[3].metric(_("Agents"), i18n.number(volume.agents))
if volume.first_at is not None:  # two dates do not fit a metric's width
    cells[4].markdown(
        _("Recorded  \n**{first}**  \nto **{last}**").format(
            first=f"{volume.first_at:%Y-%m-%d}", last=f"{volume.last_at:%Y-%m-%d}"
        )
    )
if volume.undated_tracks:
    st.caption(ngettext("{n} track has no recording date: it counts in the totals and the "
                        "overall mix, not in any period.", "{n} tracks have no recording date: they "
                        "count in the totals and the overall mix, not in any period.",
                        volume.undated_tracks).format(n=i18n.number(volume.undated_tracks)))  # fmt: skip

shares = negative_shares(result.mix).set_index("period_start").share
negative = " + ".join(i18n.emotion(e) for e in NEGATIVE)
latest = None if window.start is None else shares.get(pd.Timestamp(window.start))
previous_start = None if window.start is None else att.shift(window.start, period, -1)
previous = None if previous_start is None else shares.get(pd.Timestamp(previous_start))
if window.start is None:
    st.info(_("No track of this selection has a recording date, so there are no periods to "
              "compare. Add dates with a manifest CSV or a path pattern."))  # fmt: skip
elif latest is not None:
    delta = (
        None
        if previous is None
        else _("{change} pts vs previous {period}").format(
            change=f"{(latest - previous) * 100:+.1f}", period=i18n.period_name(period)
        )
    )
    st.metric(_("Negative share ({negative}), {window}, every track").format(
                negative=negative, window=attention_ui.window_text(window)),
              i18n.percent(latest), delta=delta, delta_color="inverse")  # fmt: skip
    if previous is None:
        st.caption(_("No tracks in the previous {period} ({start}): no change to show.").format(
            period=i18n.period_name(period), start=f"{previous_start:%Y-%m-%d}"))  # fmt: skip

left, right = st.columns(2)
with left:
    widgets.echart(charts_overview.mix_bars(result.mix, _("Emotion mix, all tracks"),
                                            i18n.language()), key="mix")  # fmt: skip
if latest is not None:
    with right:
        widgets.echart(charts_overview.mix_over_time(result.mix, period, _("Mix per {period}").format(
            period=i18n.period_name(period)), i18n.language()), key="mix_time")  # fmt: skip
    widgets.echart(charts_overview.negative_line(negative_shares(result.mix), period,
                   _("Negative share per {period}").format(period=i18n.period_name(period)),
                   i18n.language()), key="negative")  # fmt: skip

st.subheader(_("Every significant change"))
flagged = report.flagged
if window.start is not None:
    st.markdown(
        _("Each agent's share of each top emotion (and of the four negative ones together) in the "
          "{window} ({start} to {end}) against the same agent's earlier {periods}, counting "
          "{voice}. **Test:** {test}: a change is significant when its q ≤ {fdr} and both sides "
          "hold at least {min_n} tracks. Among the significant changes, at most {share} are "
          "expected to be chance.").format(
            window=attention_ui.window_text(window), start=f"{window.start:%Y-%m-%d}",
            end=f"{window.end:%Y-%m-%d}", periods=i18n.periods_name(period),
            voice=literal(voice.text), test=_(att.TEST_NAME), fdr=att.FDR, min_n=att.MIN_N,
            share=i18n.percent(att.FDR, 0))
    )  # fmt: skip
    st.page_link(st.session_state["pages"]["clips"], label=_("Clips of the {window}").format(window=attention_ui.window_text(window)), icon="🗂️",
                 query_params={"from": window.start.isoformat(), "to": window.end.isoformat(),
                               "model": model_key, **({"role": list(tracks)} if tracks else {})})  # fmt: skip
st.caption(_("{tests} of {pairs} agent × emotion pairs had enough tracks to test; {n} "
             "significant.").format(tests=i18n.number(report.tests),
                                    pairs=i18n.number(len(report.changes)), n=len(flagged)))  # fmt: skip
if not flagged.empty:
    st.dataframe(attention_ui.emotions_shown(flagged[["agent", "emotion", "share_latest", "n_latest",
                 "share_base", "n_base", "change", "p", "q"]]), hide_index=True, key="flagged",
                 column_config=attention_ui.change_columns(), placeholder="—")  # fmt: skip
# Drawn when opened: a closed expander still builds its grid, which cost a fresh browser 0.2 s.
pairs = st.expander(_("Every agent × emotion pair"), key=state.key("pairs"),
                    expanded=state.get_str("pairs") == "1", on_change="rerun")  # fmt: skip
state.put(pairs="1" if pairs.open else None)
if pairs.open:
    pairs.dataframe(attention_ui.emotions_shown(report.changes), hide_index=True, key="shifts",
                    column_config=attention_ui.change_columns(), placeholder="—")  # fmt: skip

info = reads.model_info(model_key)
model = f"{info.model_id} ({_(UNTRAINED_LABEL)})" if bool(info.untrained) else info.model_id
st.caption(
    _("**Data quality:** {unclear} of tracks have top label {other} or {unknown} · {low} have "
      "confidence below {threshold} · model {model}, revision {revision}").format(
        unclear=i18n.percent(volume.unclear_share), other=i18n.emotion("other"),
        unknown=i18n.emotion("unknown"), low=i18n.percent(volume.low_confidence_share),
        threshold=LOW_CONFIDENCE, model=literal(model), revision=literal(info.revision[:12]))
)  # fmt: skip
for row in report.data_quality.itertuples():  # other / unknown: the model's doubt, not a mood
    st.caption(literal(_("Data quality") + " · " + attention_ui.item_line(row)))
