"""Every option of every choice widget gets at least one test (an untested "month" once crashed).

Each widget below, with the test that picks each of its options and checks a value that proves
the option took effect ("here" means this module):

Sidebar (dashboard/widgets.py)
- Results of model (selectbox): here, test_sidebar_every_model
- Corpus (multiselect): here, test_sidebar_every_corpus
- Agent (multiselect): here, test_sidebar_every_agent; test_pages.test_clips_filter_by_agent
- Top emotion (multiselect): here, test_sidebar_every_top_emotion
- Track / role (multiselect): here, test_sidebar_every_track
- Laughter or crying (multiselect, once something is transcribed): test_transcript_view (every
  option alone and both; from a shared URL; the Exports page's counts)
Overview
- Period (radio day/week/month): here, test_overview_every_period; test_url_roundtrip (month)
- Every agent x emotion pair (expander, open/closed; drawn when open):
  test_overview.test_flagged_shifts_link_to_clips_and_trends
- What was said: the item (selectbox, each listed item; from the URL; a word's link):
  test_said_words.test_the_words_of_each_item_link_to_their_clips,
  test_said_words.test_the_item_comes_from_the_url
Upload & analyse
- Model (selectbox): here, test_upload_builds_the_request_of_every_choice (every offered model);
  test_pages.test_upload_page_offers_every_model_and_labels_the_test_model
- Model directory (selectbox, admins): test_access.test_an_admin_may_pick_a_model_from_the_models_folder
- Granularity (radio frame/utterance), Stereo (radio mix/split): here,
  test_upload_builds_the_request_of_every_choice
Clips
- Sort by (selectbox) x Order (radio): test_pages.test_clips_page_sorts_by_every_column
- a transcript's rows (single-row selection, the player's start):
  test_transcript_view.test_the_clips_page_shows_the_tags_and_a_row_moves_its_player
Frame curves
- Clip (selectbox): test_url_roundtrip.test_frames_page_clip_smoothing_emotions_style_and_comparison
- Style (radio stacked area/lines): here, test_frames_every_style
- Emotions (multiselect): here, test_frames_every_emotion_alone
- Compare with (selectbox, none or a clip): test_pages.test_frames_page_draws_curves_and_compares
- aligned tracks (toggle on/off): test_url_roundtrip.test_frames_page_aligned_tracks_toggle
- Jump to segment (selectbox): here, test_frames_jump_to_every_segment (the player's start);
  test_pages.test_long_recording_shows_its_segments_and_jumps_to_them (lists every window)
- a line's band under the curve (a click) and the lines' rows (single-row selection), each
  moving the player: test_transcript_view.test_frame_curves_list_the_lines_and_a_picked_one_moves_the_player
Clusters
- Clusters (k) (selectbox): test_pages.test_clusters_page_offers_every_k_without_computing
- Colour by (selectbox): test_pages.test_clusters_page_computes_in_the_background_and_stores_a_projection
- The map's selection (a clicked point, rectangle, lasso, clear, double-click):
  test_browser_navigation.test_a_cluster_selection_opens_its_clips,
  test_browser_navigation.test_a_clicked_point_a_lasso_and_clearing; kept in the URL (set, cleared,
  another map's): test_url_roundtrip.test_clusters_page_map_selection_listed_cluster_its_page_and_more_like,
  test_url_roundtrip.test_a_cleared_map_selection_leaves_the_url_and_another_maps_is_ignored
  (also its Clear the selection button)
- List a cluster's clips (selectbox, none or each cluster): test_pages.test_every_cluster_lists_all_its_tracks_not_only_the_drawn_points;
  its Page (number input): test_pages.test_a_cluster_list_pages_like_the_clips_page; its link to Clips
  and Clips' Show every clip (button): test_pages.test_a_cluster_opens_in_clips_and_a_row_opens_its_clip
- More like this cluster (toggle on/off) x How many (10, 20, 50, 100):
  test_pages.test_more_like_this_cluster_ranks_tracks_outside_it
Agent trends
- Period (radio): test_pages.test_trends_page_every_period
- Emotion (selectbox): test_pages.test_trends_page_every_focus_emotion
- Compare agents over time (toggle on/off), Compare agents (multiselect): here,
  test_trends_compare_each_agent
- the grid's cells (single-cell selection): here, test_a_clicked_grid_cell_opens_its_agent_and_period;
  test_browser_navigation (a real click)
- Agent, Period starting (drill-down selectboxes): here, test_trends_drill_down_every_agent_and_period;
  test_url_roundtrip.test_trends_page_period_emotion_comparison_and_drill_down
Exports
- every table x format (export buttons): test_pages.test_exports_page_offers_every_table_in_both_formats,
  test_exports.test_exports_of_one_selection_agree_row_for_row, test_export_progress, test_browser_exports
- the export's bar, Cancel and Download (#30): test_exports_page
Model check
- Corpus, Track (selectboxes): test_evaluate.test_page_picks_another_corpus_track_and_model
- Show (radio counts/row-normalised): test_evaluate.test_page_counts_and_row_normalised_views
- Your label, Model's top emotion (selectboxes):
  test_evaluate.test_page_lists_the_clips_of_a_cell_and_opens_one
Admin
- Show the newest, Action (selectboxes): test_access.test_admin_page_offers_every_audit_filter_and_size
- Role (selectbox): test_access.test_admin_grants_each_role_and_it_takes_effect
- Withdraw a granted role, Corpus (selectboxes): test_access.test_admin_page_audit_roles_and_typed_deletion
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from core.model.labels import EMOTIONS, UNTRAINED_LABEL
from core.records import SegmentRecord
from core.store.aggregates import agent_trends
from core.store.batches import write_batch
from core.store.clips import select_clips
from core.store.database import ClipRecord, FileOutcome, ScoredTrack, Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import list_models, register_model
from tests.apptest import echarts, open_page

CORPORA = {"north": 0, "south": 1}
AGENTS = ["ann", "ben", "cy"]
TRACKS = ["mix", "agent", "customer"]
MODELS = {"m@1": "model-one", "m@2": "model-two"}


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    """Two corpora, three agents, mixed and split calls; model-two scored only `south`.

    Small enough that every sidebar option can be picked one by one, with each option's rows
    known from the store.
    """
    path = tmp_path_factory.mktemp("options") / "small.duckdb"
    store = Store(path)
    rng = np.random.default_rng(11)
    for key, name in MODELS.items():
        register_model(store, key, name, "1", 8, untrained=True)
    start = datetime(2025, 3, 3)
    for corpus, c in CORPORA.items():
        clips, tracks, outcomes = [], [], []
        for i in range(18):
            clip_id = f"{corpus}{i:02}"
            split = i % 3 == 0
            clips.append(ClipRecord(clip_id, f"{corpus}-{i:02}.wav", None, 5.0 + i, 16_000,
                                    2 if split else 1, "pcm_s16le", 100, agent=AGENTS[i % 3],
                                    recorded_at=start + timedelta(days=3 * i + c)))  # fmt: skip
            for track in ["agent", "customer"] if split else ["mix"]:
                # The top emotion cycles through all nine, so each Top emotion option has rows.
                scores = rng.dirichlet(np.ones(9)).astype(np.float32) * 0.5
                scores[(i + c + len(track)) % 9] += 0.5
                tracks.append(ScoredTrack(clip_id, track, scores,
                                          rng.standard_normal(8).astype(np.float32)))  # fmt: skip
            outcomes.append(FileOutcome(f"{corpus}-{i:02}.wav", "scored", clip_id, 5.0 + i))
        for key in MODELS if corpus == "south" else ["m@1"]:
            run = start_run(store, corpus, key, len(clips))
            write_batch(store, run, corpus, key, 8, clips, tracks, outcomes)
            finish_run(store, run)
    return path


def widget(at: AppTest, kind: str, label: str):
    return next(w for w in getattr(at, kind) if w.label == label)


def clips_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if "Clips (tracks) matching" in c.value)


def every_clip(db: Path, model_key: str | None = None) -> pd.DataFrame:
    store = Store(db)
    return select_clips(store, model_key or list_models(store).model_key[0])


# -- the sidebar filters: each option narrows the rows to exactly its own ------------------------


def test_sidebar_every_model(small_db, monkeypatch):
    at = open_page("clips", small_db, monkeypatch)
    picker = widget(at.sidebar, "selectbox", "Results of model")
    listed = list_models(Store(small_db))
    assert picker.options == [f"{MODELS[k]} ({UNTRAINED_LABEL})" for k in listed.model_key]
    for key in MODELS:
        widget(at.sidebar, "selectbox", "Results of model").set_value(key).run()
        assert not at.exception
        expected = every_clip(small_db, key)
        assert at.query_params["model"] in (key, [key])
        assert clips_caption(at).startswith(
            f"Clips (tracks) matching the filters: {len(expected)} "
        )
        table = at.dataframe[0].value
        assert sorted(table.source_name) == sorted(expected.source_name)
    assert set(every_clip(small_db, "m@2").corpus) == {"south"}  # the two models differ


def only_rows_of(at, small_db, label: str, column: str, value: str):
    """Pick `value` alone in the sidebar's `label` filter; the table holds exactly its rows."""
    widget(at.sidebar, "multiselect", label).set_value([value]).run()
    assert not at.exception
    expected = every_clip(small_db, "m@1")
    expected = expected[expected[column] == value]
    table = at.dataframe[0].value
    assert len(table) == len(expected) > 0 and set(table[column]) == {value}
    return expected


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_sidebar_every_corpus(small_db, monkeypatch, corpus):
    at = open_page("clips", small_db, monkeypatch, model="m@1")
    only_rows_of(at, small_db, "Corpus", "corpus", corpus)
    assert at.query_params["corpus"] in (corpus, [corpus])


@pytest.mark.parametrize("agent", AGENTS)
def test_sidebar_every_agent(small_db, monkeypatch, agent):
    at = open_page("clips", small_db, monkeypatch, model="m@1")
    counts = every_clip(small_db, "m@1").drop_duplicates("clip_id").agent.value_counts()
    options = widget(at.sidebar, "multiselect", "Agent").options
    assert options == [f"{a} ({counts[a]})" for a in AGENTS]
    only_rows_of(at, small_db, "Agent", "agent", agent)


@pytest.mark.parametrize("track", TRACKS)
def test_sidebar_every_track(small_db, monkeypatch, track):
    at = open_page("clips", small_db, monkeypatch, model="m@1")
    assert sorted(widget(at.sidebar, "multiselect", "Track / role").options) == sorted(TRACKS)
    only_rows_of(at, small_db, "Track / role", "track", track)


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_sidebar_every_top_emotion(small_db, monkeypatch, emotion):
    at = open_page("clips", small_db, monkeypatch, model="m@1")
    expected = only_rows_of(at, small_db, "Top emotion", "top_label", emotion)
    assert clips_caption(at).startswith(f"Clips (tracks) matching the filters: {len(expected)} ")


# -- Overview ------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_overview_every_period(synth_db, monkeypatch, period):
    from core.analysis.overview import overview

    store = Store(synth_db)
    result = overview(store, list_models(store).model_key[0], period=period)
    at = open_page("overview", synth_db, monkeypatch)
    widget(at, "radio", "Period").set_value(period).run()
    assert not at.exception
    assert at.query_params["period"] in (period, [period])
    label = next(m.label for m in at.metric if m.label.startswith("Negative share"))
    assert label.endswith(f", {period} of {result.latest_start:%Y-%m-%d}, every track")
    titles = [chart["option"]["title"]["text"] for chart in echarts(at)]
    assert titles == [
        "Emotion mix, all tracks",
        f"Mix per {period}",
        f"Negative share per {period}",
    ]
    periods = echarts(at)[1]["data"][0].period
    expected = result.mix.dropna().period_start.drop_duplicates().dt.strftime("%Y-%m-%d")
    assert list(periods) == list(expected)


# -- Upload & analyse: the request each choice builds (the model is never loaded) ----------------


def wav_bytes() -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((16_000, 2), np.float32), 16_000, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize("granularity", ["frame", "utterance"])
@pytest.mark.parametrize("stereo", ["mix", "split"])
def test_upload_builds_the_request_of_every_choice(tmp_path, monkeypatch, hub_online, granularity,
                                                   stereo):  # fmt: skip
    from dashboard import jobs, resources

    asked = []

    def start_analysis(visitor, request, uploads):
        asked.append((request, [name for name, _ in uploads]))
        return None  # no job: the page shows the form again

    monkeypatch.setattr(jobs, "start_analysis", start_analysis)
    at = open_page("upload", tmp_path / "empty.duckdb", monkeypatch)
    assert len(widget(at, "selectbox", "Model").options) == len(resources.MODEL_CHOICES)
    # The local model directory needs a folder on the server: test_access covers it.
    models = [m for m in resources.MODEL_CHOICES if m != resources.LOCAL_MODEL]
    for shown in models:
        at.file_uploader[0].set_value(("call.wav", wav_bytes(), "audio/wav"))
        widget(at, "selectbox", "Model").set_value(shown)
        widget(at, "radio", "Granularity").set_value(granularity)
        widget(at, "radio", "Stereo").set_value(stereo).run()
        roles = widget(at, "text_input", "Channel roles (split)")
        assert roles.disabled == (stereo == "mix")
        if stereo == "split":
            roles.input("agent, customer").run()
        widget(at, "button", "Analyse").click().run()
        assert not at.exception and not at.error
        request, names = asked[-1]
        assert names == ["call.wav"]
        assert request.model == shown and request.corpus == "uploads"
        assert request.frames is (granularity == "frame")
        assert request.channel_mode == stereo
        assert request.roles == (("agent", "customer") if stereo == "split" else ())
    assert [request.model for request, _ in asked] == models and len(models) >= 2


# -- Frame curves ----------------------------------------------------------------------------------


def curve_series(at: AppTest) -> list[dict]:
    """The emotion curves (not the dominant band) of the first clip's chart.

    synth_db's first clip with curves has no transcript (its draws are seeded, whatever
    PYTHONHASHSEED is), so no "what was said" series sits beside them."""
    chart = next(c for c in echarts(at) if c["key"].startswith("curve-"))
    return [s for s in chart["option"]["series"] if not s["name"].startswith("dominant")]


@pytest.mark.parametrize("style", ["stacked area", "lines"])
def test_frames_every_style(synth_db, monkeypatch, style):
    at = open_page("frames", synth_db, monkeypatch)
    widget(at, "radio", "Style").set_value(style).run()
    assert not at.exception
    series = curve_series(at)
    assert [s["name"] for s in series] == list(EMOTIONS)
    stacked = style == "stacked area"
    assert {s.get("stack") for s in series} == ({"track 0"} if stacked else {None})
    assert all(("areaStyle" in s) is stacked for s in series)
    assert at.query_params.get("style") in (
        (None,) if style == "stacked area" else (style, [style])
    )


@pytest.mark.parametrize("emotion", EMOTIONS)
def test_frames_every_emotion_alone(synth_db, monkeypatch, emotion):
    at = open_page("frames", synth_db, monkeypatch)
    widget(at, "multiselect", "Emotions").set_value([emotion]).run()
    assert not at.exception
    assert [s["name"] for s in curve_series(at)] == [emotion]
    (chart,) = echarts(at)
    assert list(chart["data"][0].columns) == ["time_s", emotion]


# -- Agent trends ------------------------------------------------------------------------------------


def test_trends_compare_each_agent(small_db, monkeypatch):
    at = open_page("trends", small_db, monkeypatch, model="m@1", period="week")
    assert not at.get("plotly_chart") and not [w for w in at.multiselect if "Compare" in w.label]
    widget(at, "toggle", "Compare agents over time").set_value(True).run()
    assert at.query_params["cmp"] == AGENTS[:3]  # the first three, kept in the URL
    compare = widget(at, "multiselect", "Compare agents (2–5)")
    assert compare.options == AGENTS
    for agent in AGENTS:
        widget(at, "multiselect", "Compare agents (2–5)").set_value([agent]).run()
        assert not at.exception
        (lines,) = [c for c in at.get("plotly_chart") if c.key == "compare"]
        traces = json.loads(lines.proto.spec)["data"]
        assert len(traces) == 2  # the agent's share and its mean confidence
        assert all(agent in t["name"] for t in traces), traces
    widget(at, "toggle", "Compare agents over time").set_value(False).run()
    assert not at.get("plotly_chart") and "cmp" not in at.query_params


@pytest.fixture(scope="module")
def windows_db(tmp_path_factory) -> Path:
    """One long recording (80 s, its audio on disk) with a frame curve and three scored windows."""
    folder = tmp_path_factory.mktemp("windows")
    audio = folder / "long-call.wav"
    sf.write(audio, np.zeros(80 * 16_000, np.float32), 16_000)
    store = Store(folder / "windows.duckdb")
    register_model(store, "m@1", "model-one", "1", 8, untrained=True)
    rng = np.random.default_rng(5)
    clip = ClipRecord("long", audio.name, str(audio), 80.0, 16_000, 1, "pcm_s16le", 100)
    track = ScoredTrack("long", "mix", rng.dirichlet(np.ones(9)).astype(np.float32),
                        rng.standard_normal(8).astype(np.float32),
                        rng.standard_normal((4000, 9)).astype(np.float32))  # fmt: skip
    windows = [SegmentRecord("long", "mix", i, 25.0 * i, min(25.0 * i + 30.0, 80.0),
                             rng.dirichlet(np.ones(9)).astype(np.float32)) for i in range(3)]  # fmt: skip
    run = start_run(store, "calls", "m@1", 1)
    write_batch(store, run, "calls", "m@1", 8, [clip], [track],
                      [FileOutcome(audio.name, "scored", "long", 80.0)], windows)  # fmt: skip
    finish_run(store, run)
    return folder / "windows.duckdb"


def test_frames_jump_to_every_segment(windows_db, monkeypatch):
    at = open_page("frames", windows_db, monkeypatch)
    jump = widget(at, "selectbox", "Jump to segment")
    assert [o.split("  ")[0] for o in jump.options] == ["0:00.0 – 0:30.0", "0:25.0 – 0:55.0",
                                                        "0:50.0 – 1:20.0"]  # fmt: skip
    for segment, start in zip(range(3), [0, 25, 50], strict=True):
        widget(at, "selectbox", "Jump to segment").set_value(segment).run()
        assert not at.exception
        assert at.get("audio")[0].proto.start_time == start  # the player starts at the window


def test_trends_drill_down_every_agent_and_period(small_db, monkeypatch):
    store = Store(small_db)
    trends = agent_trends(store, "m@1", period="week")
    at = open_page("trends", small_db, monkeypatch, model="m@1", period="week")
    assert widget(at, "selectbox", "Agent").options == AGENTS
    for agent in AGENTS:
        widget(at, "selectbox", "Agent").set_value(agent).run()
        mine = trends[trends.agent == agent]
        periods = [p.strftime("%Y-%m-%d") for p in mine.period]
        assert widget(at, "selectbox", "Period starting").options == periods
        for period, n in zip(periods, mine.n, strict=True):
            widget(at, "selectbox", "Period starting").set_value(period).run()
            assert not at.exception
            assert at.query_params["da"] in (agent, [agent])
            cell = at.dataframe[1].value  # the drill-down's clip list, under the grid
            start = pd.Timestamp(period)
            assert len(cell) == n
            assert cell.recorded_at.between(start, start + pd.Timedelta(days=7), "left").all()


def test_a_clicked_grid_cell_opens_its_agent_and_period(small_db, monkeypatch):
    """A click on a cell of the trend grid chooses that agent and period for the drill-down.

    AppTest cannot click a data grid; it sets the selection the grid reports, as Streamlit's
    frontend does (tests/test_browser_navigation.py clicks a real one)."""
    trends = agent_trends(Store(small_db), "m@1", period="week")
    at = open_page("trends", small_db, monkeypatch, model="m@1", period="week")
    grid = at.dataframe[0].value
    for row, agent in enumerate(grid.index):
        for period in grid.columns[grid.loc[agent].notna()]:
            at.session_state["heatmap"] = {"selection": {"rows": [], "columns": [],
                                                         "cells": [[row, period]]}}  # fmt: skip
            at.run()
            assert not at.exception
            assert widget(at, "selectbox", "Agent").value == agent
            assert widget(at, "selectbox", "Period starting").value == period
            n = trends[(trends.agent == agent) & (trends.period == pd.Timestamp(period))].n
            assert len(at.dataframe[1].value) == n.iloc[0]
    empty = [(r, p) for r, a in enumerate(grid.index) for p in grid.columns[grid.loc[a].isna()]]
    assert empty  # an agent with a clip every 9 days misses some weeks
    row, period = empty[0]
    at.session_state["heatmap"] = {
        "selection": {"rows": [], "columns": [], "cells": [[row, period]]}
    }
    at.run()
    agent = grid.index[row]
    assert widget(at, "selectbox", "Agent").value == agent
    assert any(f"{agent} has no clips in the week starting {period}" in c.value for c in at.caption)
    assert widget(at, "selectbox", "Period starting").value in grid.columns[grid.loc[agent].notna()]
