"""A copied URL reproduces the view (#10): every control of every page goes through the URL.

Each test sets a page's controls as a user would, copies the query parameters the page wrote,
opens the page afresh with only them, and checks the same controls and the same rows come back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.store.aggregates import agent_trends
from core.store.curves import tracks_with_curves
from core.store.models import list_models
from tests.apptest import APP, echarts, open_page


def reopened(at: AppTest, page: str, db: Path, monkeypatch) -> AppTest:
    """The page opened afresh from the URL `at` has written (what a colleague's click does)."""
    fresh = AppTest.from_file(APP, default_timeout=120)
    for name, value in dict(at.query_params).items():
        fresh.query_params[name] = value
    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    fresh.run()
    if page != "overview":
        fresh.switch_page(f"../pages/{page}.py")
        fresh.run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    return fresh


def widget(at: AppTest, kind: str, label: str):
    return next(w for w in getattr(at, kind) if w.label == label)


def values(at: AppTest, controls: list[tuple[str, str]]) -> list:
    return [widget(at, kind, label).value for kind, label in controls]


def same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


SIDEBAR = [("multiselect", "Agent"), ("multiselect", "Top emotion"), ("slider", "Confidence"),
           ("multiselect", "Track / role")]  # fmt: skip


def test_clips_page_filters_search_sort_and_page(synth_db, monkeypatch):
    at = open_page("clips", synth_db, monkeypatch)
    widget(at, "multiselect", "Top emotion").set_value(["angry", "sad", "happy", "neutral"]).run()
    widget(at, "slider", "Confidence").set_value((0.2, 0.9)).run()
    widget(at, "text_input", "Search file names").input("0").run()
    widget(at, "selectbox", "Sort by").set_value("confidence").run()
    widget(at, "radio", "Order").set_value("descending").run()
    controls = [*SIDEBAR, ("text_input", "Search file names"), ("selectbox", "Sort by"),
                ("radio", "Order")]  # fmt: skip
    table = at.dataframe[0].value
    assert len(table) > 0 and table.confidence.is_monotonic_decreasing
    fresh = reopened(at, "clips", synth_db, monkeypatch)
    assert values(fresh, controls) == values(at, controls)
    same_frame(fresh.dataframe[0].value, table)


def test_frames_page_clip_smoothing_emotions_style_and_comparison(synth_db, monkeypatch):
    from core.store.database import Store

    store = Store(synth_db)
    curves = tracks_with_curves(store, list_models(store).model_key[0])
    keys = list(curves.clip_id + "|" + curves.track)
    at = open_page("frames", synth_db, monkeypatch)
    widget(at, "selectbox", "Clip").set_value(keys[2]).run()
    widget(at, "slider", "Smoothing window (s)").set_value(1.2).run()
    widget(at, "multiselect", "Emotions").set_value(["angry", "happy", "sad"]).run()
    widget(at, "radio", "Style").set_value("lines").run()
    widget(at, "selectbox", "Compare with").set_value(keys[4]).run()
    controls = [("selectbox", "Clip"), ("slider", "Smoothing window (s)"),
                ("multiselect", "Emotions"), ("radio", "Style"), ("selectbox", "Compare with")]  # fmt: skip
    fresh = reopened(at, "frames", synth_db, monkeypatch)
    assert values(fresh, controls) == values(at, controls)
    assert values(at, controls) == [keys[2], 1.2, ["angry", "happy", "sad"], "lines", keys[4]]
    drawn, drawn_again = echarts(at), echarts(fresh)
    # The two clips' curves, then #27's comparison of both on one time axis.
    assert [c["key"] for c in drawn] == [f"curve-{keys[2]}", f"curve-{keys[4]}", "compare-curves"]
    assert [c["option"] for c in drawn_again] == [c["option"] for c in drawn]
    for chart, again in zip(drawn[:2], drawn_again[:2], strict=True):  # the same smoothed curve
        assert list(chart["data"][0].columns) == ["time_s", "angry", "happy", "sad"]
        pd.testing.assert_frame_equal(again["data"][0], chart["data"][0])
    for frame, again in zip(drawn[2]["data"], drawn_again[2]["data"], strict=True):
        pd.testing.assert_frame_equal(again, frame)
    assert [c.value for c in fresh.caption] == [c.value for c in at.caption]


def test_frames_page_aligned_tracks_toggle(synth_db, monkeypatch):
    from core.store.database import Store

    store = Store(synth_db)
    curves = tracks_with_curves(store, list_models(store).model_key[0])
    two = curves.groupby("clip_id").track.count()
    clip_id = two[two > 1].index[0]
    at = open_page("frames", synth_db, monkeypatch, clip=clip_id, track="agent")
    toggle = next(t for t in at.toggle if "aligned in time" in t.label)
    assert toggle.value is True
    assert [c["key"] for c in echarts(at)] == ["aligned", f"curve-{clip_id}|agent"]
    toggle.set_value(False).run()
    assert at.query_params["aligned"] == "0"
    fresh = reopened(at, "frames", synth_db, monkeypatch)
    assert next(t for t in fresh.toggle if "aligned in time" in t.label).value is False
    assert [c["key"] for c in echarts(fresh)] == [f"curve-{clip_id}|agent"]


def test_clusters_page_settings(synth_db, monkeypatch):
    at = open_page("clusters", synth_db, monkeypatch)
    widget(at, "selectbox", "Clusters (k)").set_value(5).run()
    widget(at, "slider", "UMAP neighbours").set_value(30).run()
    widget(at, "slider", "UMAP min distance").set_value(0.35).run()
    widget(at, "selectbox", "Colour by").set_value(
        widget(at, "selectbox", "Colour by").options[-1]
    ).run()
    controls = [("selectbox", "Clusters (k)"), ("slider", "UMAP neighbours"),
                ("slider", "UMAP min distance"), ("selectbox", "Colour by")]  # fmt: skip
    fresh = reopened(at, "clusters", synth_db, monkeypatch)
    assert values(fresh, controls) == values(at, controls)
    assert values(fresh, controls)[:3] == [5, 30, 0.35]


def test_trends_page_period_emotion_comparison_and_drill_down(synth_db, monkeypatch):
    at = open_page("trends", synth_db, monkeypatch)
    widget(at, "radio", "Period").set_value("month").run()
    widget(at, "selectbox", "Emotion").set_value("sad").run()
    widget(at, "toggle", "Compare agents over time").set_value(True).run()
    agents = widget(at, "multiselect", "Compare agents (2–5)").options
    widget(at, "multiselect", "Compare agents (2–5)").set_value(agents[3:6]).run()
    widget(at, "selectbox", "Agent").set_value(agents[7]).run()
    periods = widget(at, "selectbox", "Period starting").options
    widget(at, "selectbox", "Period starting").set_value(periods[0]).run()  # not the default
    controls = [("radio", "Period"), ("selectbox", "Emotion"),
                ("toggle", "Compare agents over time"), ("multiselect", "Compare agents (2–5)"),
                ("selectbox", "Agent"), ("selectbox", "Period starting")]  # fmt: skip
    drill = at.dataframe[1].value  # under the grid
    assert len(drill) > 0 and drill.source_name.str.startswith(f"{agents[7]}/").all()
    assert (drill.recorded_at >= pd.Timestamp(periods[0])).all()
    fresh = reopened(at, "trends", synth_db, monkeypatch)
    assert values(fresh, controls) == values(at, controls)
    assert values(fresh, controls)[2:4] == [True, agents[3:6]]
    same_frame(fresh.dataframe[1].value, drill)


def test_overview_period(synth_db, monkeypatch):
    at = open_page("overview", synth_db, monkeypatch)
    widget(at, "radio", "Period").set_value("month").run()
    fresh = reopened(at, "overview", synth_db, monkeypatch)
    assert widget(fresh, "radio", "Period").value == "month"
    assert [m.value for m in fresh.metric] == [m.value for m in at.metric]


def test_an_overview_shift_opens_the_trends_drill_down_of_its_agent_and_period(
    synth_db, monkeypatch
):
    from core.analysis.overview import drill_down, overview
    from core.store.database import Store

    store = Store(synth_db)
    model_key = list_models(store).model_key[0]
    result = overview(store, model_key, period="month")
    trends = agent_trends(store, model_key, period="month")
    agent = trends[trends.period == pd.Timestamp(result.latest_start)].agent.iloc[-1]
    links = drill_down(result, agent, "sad", model_key)["trends"]
    at = open_page("trends", synth_db, monkeypatch, **links)
    assert widget(at, "selectbox", "Agent").value == agent
    assert widget(at, "selectbox", "Period starting").value == result.latest_start.isoformat()
    drill = at.dataframe[1].value  # under the grid
    assert len(drill) > 0 and (drill.recorded_at >= pd.Timestamp(result.latest_start)).all()


def map_event(rows: list[int]):
    """The selection state the ECharts map reports for these points (Streamlit's own serde)."""
    from streamlit.elements.echarts_chart import EChartsChartSelectionSerde

    selected = [{"series_index": 0, "data_indices": rows}]
    return EChartsChartSelectionSerde().deserialize(
        json.dumps({"selection": {"selected": selected}})
    )


def test_clusters_page_map_selection_listed_cluster_its_page_and_more_like(
    clustered_db, monkeypatch
):
    db, key = clustered_db
    at = open_page("clusters", db, monkeypatch)
    drawn = echarts(at)[0]["data"][0]  # the map's points, in the order a selection indexes
    picked = [2, 40, 41, 300]
    at.session_state[f"map-{key}"] = map_event(picked)  # as a click and a lasso report them
    at.run()
    widget(at, "selectbox", "List a cluster's clips").set_value(0).run()
    widget(at, "number_input", "Page").set_value(2).run()
    widget(at, "toggle", "More like these").set_value(True).run()
    widget(at, "toggle", "More like this cluster").set_value(True).run()
    how_many = [w for w in at.selectbox if w.label == "How many"]
    how_many[0].set_value(10).run()
    [w for w in at.selectbox if w.label == "How many"][1].set_value(50).run()
    assert len(at.query_params["sel"]) < 100  # a bounded bitmap, not a list of clip ids
    controls = [("selectbox", "List a cluster's clips"), ("number_input", "Page"),
                ("toggle", "More like these"), ("toggle", "More like this cluster")]  # fmt: skip
    tables = [d.value for d in at.dataframe]  # picked, more like these, the cluster, more like it
    assert len(tables) == 4
    assert list(tables[0].source_name) == list(drawn.source_name.iloc[picked])
    assert [len(t) for t in tables[1:]] == [10, 20, 50]  # page 2 of cluster 0: 520 - 500 rows
    fresh = reopened(at, "clusters", db, monkeypatch)
    assert values(fresh, controls) == values(at, controls) == [0, 2, True, True]
    assert [w.value for w in fresh.selectbox if w.label == "How many"] == [10, 50]
    assert len(fresh.dataframe) == 4
    for again, table in zip(fresh.dataframe, tables, strict=True):
        same_frame(again.value, table)
    assert dict(fresh.query_params) == dict(at.query_params)


def test_a_cleared_map_selection_leaves_the_url_and_another_maps_is_ignored(
    clustered_db, monkeypatch
):
    from dashboard.state import rows_value

    db, key = clustered_db
    at = open_page("clusters", db, monkeypatch)
    at.session_state[f"map-{key}"] = map_event([5])
    at.run()
    drawn = len(echarts(at)[0]["data"][0])
    assert at.query_params["sel"].startswith(f"{key[:8]}-{drawn}.")
    assert "1 selected clip" in [s.value for s in at.subheader]
    at.session_state[f"map-{key}"] = map_event([])  # the map's clear button, a double click
    at.run()
    assert "sel" not in at.query_params and not at.dataframe
    assert any(c.value.startswith("Click points") for c in at.caption)
    # A selection opened from a link is not on the map: its button clears it, and the map anew.
    at = open_page("clusters", db, monkeypatch, sel=rows_value([5, 6], f"{key[:8]}-{drawn}", drawn),
                   more="1")  # fmt: skip
    assert "2 selected clips" in [s.value for s in at.subheader]
    next(b for b in at.button if b.label == "Clear the selection").click().run()
    assert not {"sel", "more"} & set(at.query_params) and not at.dataframe
    assert [c["key"] for c in echarts(at)] == [f"map-{key}-1", "mix"]
    for tag in (f"{'0' * 8}-{drawn}", f"{key[:8]}-{drawn + 1}"):
        stale = rows_value([5], tag, drawn)
        at = open_page("clusters", db, monkeypatch, sel=stale)  # another projection's map
        assert "sel" not in at.query_params and not at.dataframe
