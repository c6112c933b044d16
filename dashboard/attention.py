"""Needs attention and agent rankings on the pages (#30): cached reads, the voice and period
pickers, the list of items with their drill-downs, and what an item's clips said (#26). The
numbers come from core.analysis.attention over core.store.attention's counts and from
core.analysis.words over core.store.transcripts' word counts; nothing here runs SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from core.analysis import attention as att
from core.analysis import ranking as rank
from core.analysis import words
from core.model.labels import EMOJI
from core.records import ClipFilter, WordCounts
from core.store import attention as queries
from core.store import transcripts
from dashboard import i18n, reads, resources, state
from dashboard.i18n import _

SHOWN = 6  # items listed before "n more": the list must stay above the fold at 1440 x 900
GOOD_SHOWN = 4
EMOJI_OF = {**EMOJI, att.COMBINED: "🔻"}


@st.cache_data(show_spinner=False, max_entries=32)
def _counts(_s, path: str, v: tuple, model_key: str, where: ClipFilter, period: str):
    return queries.agent_periods(_s, model_key, where, period)


def counts(model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """Per agent and period of the selection: tracks and tracks per top emotion (cached until
    the database file changes)."""
    s = resources.store()
    return _counts(s, str(s.path), resources.version(), model_key, where, period)


@st.cache_data(show_spinner=False, max_entries=32)
def _trends(_s, path: str, v: tuple, model_key: str, where: ClipFilter, period: str):
    return queries.agent_trends(_s, model_key, where, period)


def trends(model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """Agent trends' rows for a voice: summed from the per-track days when they answer."""
    s = resources.store()
    return _trends(s, str(s.path), resources.version(), model_key, where, period)


@dataclass(frozen=True)
class Voice:
    """The tracks a page counts for split calls, and how it says so."""

    role: str
    where: ClipFilter  # the sidebar's filter with the voice's tracks
    text: str


def voice(where: ClipFilter) -> Voice:
    """The sidebar's "Voice counted" choice: the customer's track of split calls by default.

    Tracks picked in the sidebar's "Track / role" filter win; with no split call there is
    nothing to choose.
    """
    tracks = reads.filter_options()["tracks"]
    if where.tracks:
        return Voice(
            "chosen", where, _("the tracks chosen in the sidebar: {tracks}").format(
                tracks=", ".join(where.tracks))
        )  # fmt: skip
    roles = [t for t in tracks if t != att.UNSPLIT]
    if not roles:
        return Voice(att.ALL_TRACKS, where, i18n.message(rank.role_text(att.ALL_TRACKS, tracks)))
    options = [*roles, att.ALL_TRACKS]
    default = rank.default_role(tracks)
    wanted = state.get_str("voice", default, options)
    role = st.sidebar.selectbox(
        _("Voice counted (split calls)"), options, index=options.index(wanted),
        format_func=i18n.fixed(lambda r: _("both voices") if r == att.ALL_TRACKS else _("the {role}").format(role=r)),
        key=state.key("voice"),
        help=_("For a call split into one track per speaker, whose track the shares count. "
               "Recordings that were not split count their one track."),
    )  # fmt: skip
    state.put(voice=None if role == default else role)
    return Voice(role, rank.counted_filter(where, role, tracks),
                 i18n.message(rank.role_text(role, tracks)))  # fmt: skip


def window_text(window: att.Window) -> str:
    """The window as the page's language writes it: "week of 2025-03-03" / 2025年第10周."""
    if i18n.language() == "en":
        return window.label
    if window.start is None:
        return _("no dated {period}").format(period=i18n.period_name(window.period))
    text = i18n.period(window.start, window.period)
    return text if window.complete else _("{period} so far").format(period=text)


def emotions_shown(table: pd.DataFrame) -> pd.DataFrame:
    """A table's `emotion` column in the page's language (the model's classes, not data)."""
    if "emotion" not in table or i18n.language() == "en":
        return table
    return table.assign(emotion=table.emotion.map(lambda e: i18n.emotion(e)))


def change_columns() -> dict:
    """Headings and formats of the tables of changes (Overview)."""
    percent = "percent"
    return {
        "agent": _("agent"), "emotion": _("emotion"),
        "share_latest": st.column_config.NumberColumn(_("share now"), format=percent),
        "n_latest": st.column_config.NumberColumn(_("n now")),
        "share_base": st.column_config.NumberColumn(_("share before"), format=percent),
        "n_base": st.column_config.NumberColumn(_("n before")),
        "change": st.column_config.NumberColumn(_("change"), format=percent),
    }  # fmt: skip


def window_picker(period: str, table: pd.DataFrame, column) -> att.Window:
    """The last complete period, or the one in progress ("so far") when the data have one."""
    newest = None if table.empty else pd.Timestamp(table.period_start.max()).date()
    complete = att.choose_window(period, newest, date.today())
    if complete.in_progress is None:
        state.put(sofar=None)
        return complete
    so_far = att.choose_window(period, newest, date.today(), so_far=True)
    labels = {False: _("last complete: {window}").format(window=window_text(complete)),
              True: window_text(so_far)}  # fmt: skip
    picked = column.radio(_("Which"), [False, True], format_func=labels.get, horizontal=True,
                          index=int(state.get_str("sofar") == "1"), key=state.key("sofar"))  # fmt: skip
    state.put(sofar="1" if picked else None)
    return so_far if picked else complete


def item_line(row) -> str:
    """One item as plain text (st.text: an agent's name is shown exactly as typed)."""
    base = "—" if pd.isna(row.share_base) else i18n.percent(row.share_base, 0)
    return _("{agent} · {emotion} {share} of {n} now vs {base} of {n_base} before · {change} pts "
             "· q = {q}").format(
        agent=row.agent, emotion=i18n.emotion(row.emotion, emoji=True),
        share=i18n.percent(row.share_latest, 0), n=row.n_latest, base=base, n_base=row.n_base,
        change=f"{row.change * 100:+.0f}", q=f"{row.q:.2g}")  # fmt: skip


def item_list(rows: pd.DataFrame, window: att.Window, model_key: str, tracks: tuple[str, ...],
              role: str, shown: int, key: str) -> None:  # fmt: skip
    """Items with a link to their clips and to the agent's trend."""
    pages = st.session_state["pages"]
    for row in rows.head(shown).itertuples():
        text, clips, trend = st.columns([6, 1, 1], vertical_alignment="center", gap="small")
        text.text(item_line(row))
        clips.page_link(pages["clips"], label=_("Clips"), icon="🗂️",
                        query_params=rank.clips_params(row.agent, row.emotion, window, model_key, tracks))  # fmt: skip
        trend.page_link(pages["trends"], label=_("Trend"), icon="📅",
                        query_params=rank.trends_params(row.agent, row.emotion, window, model_key,
                                                       None if role == "chosen" else role))  # fmt: skip
    if len(rows) > shown:
        st.caption(_("{n} more in “Every significant change” below.").format(n=len(rows) - shown))


@st.cache_data(show_spinner=False, max_entries=32)
def _word_counts(_s, path: str, v: tuple, model_key: str, flagged: ClipFilter, base: ClipFilter):
    return transcripts.word_counts(_s, model_key, flagged, base, words.STOP_WORDS, words.PARTICLES,
                                   words.MIN_TRACKS)  # fmt: skip


def word_counts(model_key: str, flagged: ClipFilter, base: ClipFilter) -> WordCounts:
    """Per word, the flagged and baseline tracks saying it (cached until the file changes)."""
    s = resources.store()
    return _word_counts(s, str(s.path), resources.version(), model_key, flagged, base)


WORD_COLUMNS = 4  # word links per row


def said_words(rows: pd.DataFrame, window: att.Window, model_key: str, where: ClipFilter,
               shown: int) -> None:  # fmt: skip
    """What was said: for one of the listed items (a selectbox, the first by default, kept in
    the URL as `item`), the words its clips say more often than the agent's earlier clips, each
    opening the item's clips that say it on Clips. `where` is the page's filter with the voice's
    tracks."""
    listed = rows.head(shown)
    if listed.empty or window.start is None:
        return
    names = {f"{r.emotion}:{r.agent}": f"{r.agent} · {i18n.emotion(r.emotion, emoji=True)}"
             for r in listed.itertuples()}  # fmt: skip
    items = list(names)
    st.markdown("**💬 " + _("What was said") + "**")
    picked = st.selectbox(_("Words said more than before, in the clips of"), items,
                          index=items.index(state.get_str("item", items[0], items)),
                          format_func=names.get, key=state.key("item"))  # fmt: skip
    state.put(item=None if picked == items[0] else picked)
    emotion, agent = picked.split(":", 1)
    flagged, base = words.item_filters(where, agent, emotion, window)
    transcribed = reads.filter_options()["transcribed"]  # nothing is: no query to run
    counts = word_counts(model_key, flagged, base) if transcribed else None
    if counts is None or counts.transcribed_flagged == 0:
        st.caption(_("None of these clips has a transcript. Transcribe them with `python -m core "
                     "ingest … --transcribe`, or tick “Transcribe” on the Upload page."))  # fmt: skip
        return
    if counts.transcribed_base == 0:
        st.caption(_("None of {agent}'s earlier clips has a transcript: nothing to compare "
                     "with.").format(agent=agent))  # fmt: skip
        return
    ranked = words.rank_words(counts)
    st.caption(
        _("Words said in at least {min} of the {n} transcribed clips of this item and more often "
          "than in the agent's {n_base} transcribed clips before (log-odds ratio with an "
          "informative Dirichlet prior, z). Each opens the item's clips that say it.").format(
            min=words.MIN_TRACKS, n=i18n.number(counts.transcribed_flagged),
            n_base=i18n.number(counts.transcribed_base))
    )  # fmt: skip
    if not ranked:
        st.caption(_("No word stands out."))
        return
    tracks, pages = where.tracks, st.session_state["pages"]
    cells = []
    for i, word in enumerate(ranked):
        if i % WORD_COLUMNS == 0:  # row by row: narrow screens stack them in rank order
            cells = st.columns(WORD_COLUMNS)
        cells[i % WORD_COLUMNS].page_link(
            pages["clips"], label=f"{word.word} · {word.n_flagged}", icon="💬",
            query_params=rank.clips_params(agent, emotion, window, model_key, tracks, said=word.word),
            help=_("Said in {share} of this item's transcribed clips, {base} before · z = {z}").format(
                share=i18n.percent(word.share_flagged, 0), base=i18n.percent(word.share_base, 0),
                z=f"{word.z:.1f}"),
        )  # fmt: skip


RANK_ROWS = 30  # agents per page of the ranking


def ranking(trends: pd.DataFrame, period: str, default_emotion: str) -> tuple[str, date] | None:
    """Every agent ranked by an emotion's share (or its change) in the last complete period,
    with n and a 95 % Wilson interval, agents under the minimum n left out (and counted), 30 a
    page. Returns (agent, period start) of a row the user picked, else None."""
    counts = att.counts_from_trends(trends)
    top = st.columns([2, 2, 4, 1])
    options = list(att.OUTCOMES)
    emotion = top[0].selectbox(_("Rank agents by"), options, key=state.key("rank"),
                               index=options.index(state.get_str("rank", default_emotion, options)),
                               format_func=i18n.fixed(lambda e: i18n.emotion(e, emoji=True)))  # fmt: skip
    by_names = {"share": _("share"), "change": _("change vs before")}
    by = top[1].radio(_("Order by"), list(rank.RANK_BY), horizontal=True, key=state.key("rby"),
                      index=list(rank.RANK_BY).index(state.get_str("rby", "share", list(rank.RANK_BY))),
                      format_func=by_names.get)  # fmt: skip
    window = window_picker(period, counts, top[2])
    if window.start is None:
        return None
    ranked, hidden = rank.rank_agents(counts, window.start, emotion, by)
    pages = max(1, -(-len(ranked) // RANK_ROWS))
    page = top[3].number_input(_("Page"), 1, pages, min(state.get_int("rpage", 1, low=1), pages),
                               key=state.key("rpage"))  # fmt: skip
    state.put(rank=None if emotion == default_emotion else emotion,
              rby=None if by == "share" else by, rpage=None if page == 1 else page)  # fmt: skip
    ranked_by = (
        _("their share of {emotion}") if by == "share"
        else _("the change in their share of {emotion} against their earlier {periods}")
    ).format(emotion=i18n.emotion(emotion), periods=i18n.periods_name(period))  # fmt: skip
    st.caption(
        _("Agents with at least {min_n} tracks in the {window}: {n}, ranked by {by}; 95 % Wilson "
          "interval. Agents with fewer tracks, left out: {hidden}. Page {page} of {pages}; pick "
          "a row to list its clips.").format(
            n=i18n.number(len(ranked)), min_n=att.MIN_N, window=window_text(window), by=ranked_by,
            hidden=i18n.number(hidden), page=page, pages=pages)
    )  # fmt: skip
    shown = ranked.iloc[(page - 1) * RANK_ROWS : page * RANK_ROWS]
    event = st.dataframe(
        shown.drop(columns="k"), hide_index=True, key="ranking", on_select="rerun",
        selection_mode="single-row",
        column_config={"rank": _("rank"), "agent": _("agent"), "n": "n",
                       "share": st.column_config.NumberColumn(_("share"), format="percent"),
                       "low": st.column_config.NumberColumn(_("95 % low"), format="percent"),
                       "high": st.column_config.NumberColumn(_("95 % high"), format="percent"),
                       "share_base": st.column_config.NumberColumn(_("before"), format="percent"),
                       "n_base": st.column_config.NumberColumn(_("n before")),
                       "change": st.column_config.NumberColumn(_("change"), format="percent")},
    placeholder="—")  # fmt: skip
    rows = event.selection.rows if event else []
    return (shown.agent.iloc[rows[0]], window.start) if rows else None
