"""Shared widgets: model picker, clip filters, empty states, result cards, error display."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from core.errors import EmoScopeError
from core.model.labels import EMOJI, EMOTIONS, SCORE_COLUMNS, UNTRAINED_LABEL
from core.model.team import team_default, why
from core.records import FILTER_EVENTS
from core.store.database import ClipFilter
from dashboard import i18n, reads, resources, state
from dashboard.echart import EChart
from dashboard.i18n import N_, _
from dashboard.text import literal
from dashboard.transcript_charts import event_name

log = logging.getLogger(__name__)


def empty_state(what: str) -> None:
    """The page's guidance when the database holds nothing yet."""
    st.info(
        _("No {what} yet. Open **Upload & analyse** to score some recordings, or run "
          "`{command}` and reload this page.").format(
            what=_(what), command="python -m core ingest FOLDER --corpus NAME")
    )  # fmt: skip
    if "upload" in st.session_state["pages"]:  # not registered for viewers (sign-in roles)
        st.page_link(st.session_state["pages"]["upload"], label=_("Upload & analyse"), icon="⬆️")


def echart(chart: EChart, key: str) -> None:
    """Draw an ECharts chart at the height its builder chose."""
    st.echarts_chart(chart.option, height=chart.height_px, key=key, alt=chart.alt)


def echart_selection(chart: EChart, key: str, rows: int) -> list[int]:
    """Draw an ECharts chart whose brush or point selection reruns the page; the selected
    rows of its dataset, sorted. Indices outlive a change of data, so those past `rows` go."""
    event = st.echarts_chart(chart.option, height=chart.height_px, key=key, alt=chart.alt,
                             on_select="rerun")  # fmt: skip
    picked = {i for group in event.selection.selected for i in group["data_indices"]}
    return sorted(i for i in picked if 0 <= i < rows)


def model_key() -> str | None:
    """The model whose results the pages show (sidebar), remembered in the URL."""
    models = reads.models()
    if models.empty:
        return None
    keys = list(models.model_key)
    labels = {
        r.model_key: f"{r.model_id} ({_(UNTRAINED_LABEL)})" if r.untrained else r.model_id
        for r in models.itertuples()
    }
    default = team_default(models)  # EMOSCOPE_MODEL, else the most results: never the latest (#30)
    chosen = st.sidebar.selectbox(_("Results of model"), keys, format_func=labels.get,
                                  index=keys.index(state.get_str("model", default, keys)), key=state.key("model"))  # fmt: skip
    if len(keys) > 1:
        st.sidebar.caption(_("{n} models hold results; each page shows one model's. Default: "
                             "{model}, {why}.").format(n=len(keys), model=literal(labels[default]),
                                                       why=why(models, default)))  # fmt: skip
    state.put(model=chosen)
    if bool(reads.model_info(chosen).untrained):
        st.sidebar.warning(
            _("**{untrained}**: random weights, the emotions shown mean nothing.").format(
                untrained=_(UNTRAINED_LABEL)
            )
        )
    return chosen


def results_page(title: str, nothing_yet: str, filters: bool = True) -> tuple[str, ClipFilter]:
    """A results page's header: title, model picker and clip filters.

    Stops the page with the empty-state guidance when the database holds no results yet.
    """
    st.title(title)
    key = model_key()
    if key is None:
        empty_state(nothing_yet)
        st.stop()
    return key, clip_filter() if filters else ClipFilter()


# The URL parameters of the sidebar's filters (clip_filter), for links that keep them.
FILTER_PARAMS = ("corpus", "agent", "emotion", "role", "cmin", "cmax", "dmin", "dmax", "from", "to")


def clip_filter() -> ClipFilter:
    """Sidebar filters for corpus, agent, dates, top emotion, confidence, duration, track and
    (once something is transcribed) laughter or crying.

    Every choice is kept in the URL (dates as `from`/`to`, `to` the inclusive last day;
    durations as `dmin`/`dmax`), so a shared address shows the same clips.
    """
    options = reads.filter_options()
    corpora = list(reads.corpora().corpus)
    counts = options["agent_clips"]
    side = st.sidebar
    side.subheader(_("Filter clips"))
    chosen_corpora = side.multiselect(
        _("Corpus"),
        corpora,
        default=state.get_list("corpus", corpora),
        placeholder=_("Choose options"),
        key=state.key("corpus"),
    )
    agents = side.multiselect(_("Agent"), options["agents"],
                              default=state.get_list("agent", options["agents"]),
                              format_func=lambda a: f"{a} ({counts.get(a, 0):,})", placeholder=_("Choose options"), key=state.key("agent"))  # fmt: skip
    labels = side.multiselect(_("Top emotion"), EMOTIONS, default=state.get_list("emotion", EMOTIONS),
                              format_func=i18n.fixed(lambda e: i18n.emotion(e, emoji=True)), placeholder=_("Choose options"), key=state.key("emotion"))  # fmt: skip
    date_from, date_to, days = _date_range(options)
    bounds = (state.get_float("cmin", 0.0, low=0.0, high=1.0),
              state.get_float("cmax", 1.0, low=0.0, high=1.0))  # fmt: skip
    confidence = side.slider(
        _("Confidence"), 0.0, 1.0, (min(bounds), max(bounds)), 0.05, key=state.key("confidence")
    )
    top = round(max(float(options["max_duration_s"]), 1.0) + 0.5, 1)
    wanted = (state.get_float("dmin", 0.0, low=0.0, high=top),
              state.get_float("dmax", top, low=0.0, high=top))  # fmt: skip
    duration = side.slider(
        _("Duration (s)"), 0.0, top, (min(wanted), max(wanted)), key=state.key("duration")
    )
    tracks = options["tracks"]
    chosen_tracks = []
    if len(tracks) > 1:  # stereo calls scored per channel: filter by role (agent, customer …)
        chosen_tracks = side.multiselect(
            _("Track / role"),
            tracks,
            default=state.get_list("role", tracks),
            placeholder=_("Choose options"),
            key=state.key("role"),
        )
    events = _events(options)
    state.put(role=chosen_tracks, corpus=chosen_corpora, agent=agents, emotion=labels, event=events,
              cmin=confidence[0] or None, cmax=None if confidence[1] == 1.0 else confidence[1],
              dmin=duration[0] or None, dmax=None if duration[1] >= top else duration[1],
              **days)  # fmt: skip
    return ClipFilter(
        corpora=tuple(chosen_corpora), agents=tuple(agents), top_labels=tuple(labels),
        tracks=tuple(chosen_tracks), date_from=date_from, date_to=date_to,
        min_confidence=confidence[0], max_confidence=confidence[1],
        min_duration_s=duration[0], max_duration_s=None if duration[1] >= top else duration[1],
        events=tuple(events),
    )  # fmt: skip


def _events(options: dict) -> list[str]:
    """'Laughter or crying' (#26): tracks with a transcript line of any chosen event (URL:
    `event=laughter`); offered once something has been transcribed."""
    if not options.get("transcribed"):
        return []
    return st.sidebar.multiselect(
        _("Laughter or crying (transcript)"),
        list(FILTER_EVENTS),
        default=state.get_list("event", FILTER_EVENTS),
        format_func=i18n.fixed(lambda e: event_name(e, i18n.language())),
        placeholder=_("Choose options"),
        key=state.key("event"),
    )


def _date_range(options: dict) -> tuple[datetime | None, datetime | None, dict]:
    """The 'Recorded between' picker: (from, exclusive end, URL parameters)."""
    if options["date_min"] is None:
        return None, None, {"from": None, "to": None}
    low, high = options["date_min"].date(), options["date_max"].date()
    start = min(max(state.get_date("from") or low, low), high)
    end = max(min(state.get_date("to") or high, high), start)
    picked = st.sidebar.date_input(
        _("Recorded between"),
        value=(start, end),
        min_value=low,
        max_value=high,
        key=state.key("dates"),
    )
    if not (isinstance(picked, tuple) and len(picked) == 2) or picked == (low, high):
        return None, None, {"from": None, "to": None}
    first, last = picked
    return (datetime.combine(first, time()), datetime.combine(last, time()) + timedelta(days=1),
            {"from": first.isoformat(), "to": last.isoformat()})  # fmt: skip


def top_result(label: str, confidence: float, untrained: bool) -> None:
    """The big top-emotion line of a result."""
    name = i18n.emotion(label)
    st.markdown(f"## {EMOJI[label]} {name[:1].upper()}{name[1:]} · {i18n.percent(confidence)}")
    if untrained:
        st.caption(_("⚠️ {untrained}: random weights, this emotion means nothing.").format(
            untrained=_(UNTRAINED_LABEL)))  # fmt: skip


def run_safely(action: Callable[[], object]) -> object | None:
    """Run a core call; a user error shows as st.error, anything else as a short error + log."""
    try:
        return action()
    except EmoScopeError as exc:
        st.error(i18n.error(resources.for_visitor(str(exc))))  # core names the file by its path
    except Exception:
        log.exception("unexpected error")
        st.error(_("Something went wrong inside EmoScope; the details are in the server log."))
    return None


_HEADINGS = {"source_name": N_("file"), "corpus": N_("corpus"), "track": N_("track"),
             "agent": N_("agent"), "recorded_at": N_("recorded"), "top_label": N_("top emotion"),
             "speaker": N_("speaker"), "said_at_s": N_("said at (s)"), "said_line": N_("said"),
             "label": N_("label"), "cluster": N_("cluster")}  # fmt: skip


def download_button(place, label: str, data, file_name: str, **options) -> None:
    """`st.download_button` in `place` (st, a column ...), as every page offers a file.

    A click never reruns the page (`on_click="ignore"`): a download changes nothing, and a rerun
    re-registered a deferred file while the browser was asking for it, so under load the
    download never came (CI, Exports).
    """
    place.download_button(label, data, file_name, on_click="ignore", **options)


def column_name(column: str) -> str:
    """A clip table column's heading in the page's language (its key stays the URL's value)."""
    if column in _HEADINGS:
        return _(_HEADINGS[column])
    if column.startswith("score_"):
        return i18n.emotion(column.removeprefix("score_"))
    return {"duration_s": _("duration (s)"), "confidence": _("confidence")}.get(column, column)


def emotions_shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's top_label column in the page's language: the model's classes, not data (a
    user's own `label` stays as typed)."""
    if "top_label" not in frame or i18n.language() == "en":
        return frame
    names = {e: i18n.emotion(e) for e in EMOTIONS}
    return frame.assign(top_label=frame.top_label.map(lambda e: names.get(e, e)))


def clip_columns(columns: list[str]) -> dict:
    """Column headings and formats of a clip table: human names, percentages, seconds."""
    config = {c: _(_HEADINGS[c]) for c in columns if c in _HEADINGS}
    for c in [*SCORE_COLUMNS, "confidence"]:
        if c in columns:
            config[c] = st.column_config.ProgressColumn(
                i18n.emotion(c.removeprefix("score_")) if c != "confidence" else _("confidence"),
                format="percent",
                min_value=0,
                max_value=1,
            )
    if "duration_s" in columns:
        config["duration_s"] = st.column_config.NumberColumn(_("duration (s)"), format="%.2f")
    return config


def clip_list(clips: pd.DataFrame, columns: list[str], key: str, model_key: str) -> None:
    """A table of clips where choosing a row opens that clip on the Clips page (no dead ends)."""
    event = st.dataframe(emotions_shown(clips[columns]), hide_index=True, key=key, on_select="rerun",
                         selection_mode="single-row", column_config=clip_columns(columns), placeholder="—")  # fmt: skip
    rows = event.selection.rows if event else []
    if not rows:
        st.caption(_("Select a row to open its clip."))
        return
    row = clips.iloc[rows[0]]
    st.page_link(st.session_state["pages"]["clips"], label=_("Open {name} in Clips").format(name=literal(row.source_name)),
                 icon="🗂️", query_params={"clip": row.clip_id, "track": row.track,
                                          "model": model_key})  # fmt: skip


def keep_choice(key: str, options: list[str], *, wanted: str | None = None,
                initial: str | None = None, fallback: str | None = None) -> None:  # fmt: skip
    """Set a keyed choice widget's value before it is drawn.

    `wanted` (a click elsewhere on the page) overrides the current choice; `initial` (from the
    URL) fills it the first time; a choice no longer offered falls back to `fallback` (None:
    nothing chosen, the widget shows its placeholder).
    """
    current = st.session_state.get(key)
    if wanted in options:
        current = wanted
    elif current not in options:
        current = initial if initial in options else fallback
    st.session_state[key] = current


def heatmap_cell(event, agents: list[str]) -> tuple[str, str] | None:
    """The (agent, period) of a newly clicked cell of the trend grid, or None.

    `agents` are the grid's rows in order: the grid reports a cell by row position and column
    name (the period's first day). A grid keeps its selection across reruns; only a click not
    yet acted on is returned, so a choice made later in the drill-down widgets is not
    overridden by an old click.
    """
    cells = event.selection.cells if event else []
    if not cells:
        st.session_state.pop("_heatmap_cell", None)
        return None
    row, period = cells[0]
    cell = (agents[row], str(period)) if 0 <= row < len(agents) else None
    if cell == st.session_state.get("_heatmap_cell"):
        return None
    st.session_state["_heatmap_cell"] = cell
    return cell


def uploader_key() -> str:
    """The upload widget's key: a new one after each analysed upload, so it shows empty."""
    return f"uploads-{st.session_state.get('uploads_done', 0)}"


def remember_uploads(file_ids: Sequence[str]) -> None:
    """Note the files an analysis that just started is reading (see `forget_uploads`)."""
    st.session_state["analysis_files"] = list(file_ids)


def forget_uploads() -> None:
    """Once an analysis has succeeded: drop its files' bytes from the server, empty the uploader.

    Streamlit keeps every uploaded file in memory until the session ends, even once its uploader
    is gone (bench/upload_memory.py: the server grew by each round's zip). Its own chat input
    removes files after use the same way.
    """
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    st.session_state["uploads_done"] = st.session_state.get("uploads_done", 0) + 1
    file_ids = st.session_state.pop("analysis_files", [])
    ctx = get_script_run_ctx()
    if ctx is None or not isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        return
    for file_id in file_ids:
        ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=file_id)
