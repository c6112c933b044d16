"""Pure chart builders and user text: names as literal text (#14), readable charts (#10)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.model.labels import COLORS, EMOTIONS, SCORE_COLUMNS
from dashboard import charts, cluster_charts, curve_charts
from dashboard.text import literal, plain, plot_label

HOSTILE = "[login](https://evil.example/login) <a href='x'>**b**</a> $x^2$ \u202egnp.exe"


def test_bidi_controls_are_neutralised():
    assert plain("invoice\u202egnp.exe") == "invoice\ufffdgnp.exe"
    assert plain("\u2066a\u2069") == "\ufffda\ufffd"
    assert plain("plain name") == "plain name"


def test_plot_labels_escape_html():
    assert plot_label("<a href='x'>hi</a> & co") == "&lt;a href='x'&gt;hi&lt;/a&gt; &amp; co"


def test_markdown_shows_every_character_as_typed():
    shown = literal(HOSTILE).replace("\\", "").replace("\u200b", "")
    assert shown == plain(HOSTILE)


def test_charts_carry_names_escaped():
    trends = pd.DataFrame({
        "agent": [HOSTILE, "bob"], "period": pd.to_datetime(["2024-05-06", "2024-05-06"]),
        "angry": [0.5, 0.25], "n": [4, 8], "low_n": [True, False], "mean_confidence": [0.6, 0.7],
    })  # fmt: skip
    lines = charts.agent_lines(trends, "angry", [HOSTILE])
    assert lines.data[0].name == plot_label(HOSTILE)
    assert "<a" not in lines.data[0].hovertemplate.split(":")[0]
    # ECharts draws strings as plain text: names go in as typed, bidi controls neutralised
    curves = curve_charts.aligned_tracks({HOSTILE: pd.DataFrame({"time_s": [0.0], "angry": [1.0]})},
                                         ["angry"], heading=HOSTILE)  # fmt: skip
    assert [t["text"] for t in curves.option["title"]] == [plain(HOSTILE), plain(HOSTILE)]
    assert "rich" not in str(curves.option)  # no rich-text styles: "{a|…}" in a name stays text


def _curve(seconds: float) -> pd.DataFrame:
    from core.analysis.curves import curve_frame

    frames = int(seconds / 0.02)
    probs = np.full((frames, len(EMOTIONS)), 0.05)
    probs[: frames // 2, EMOTIONS.index("angry")] = 0.6  # angry, then sad
    probs[frames // 2 :, EMOTIONS.index("sad")] = 0.6
    return curve_frame(probs / probs.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("stacked", [True, False])
def test_curve_chart_sends_percent_and_a_dominant_band_on_one_time_axis(stacked):
    from core.analysis.curves import dominant_segments

    curve = _curve(4.0)
    chart = curve_charts.curve_chart(
        curve, ["angry", "sad"], stacked, dominant_segments(curve), "t"
    )
    option = chart.option
    source = option["dataset"]["source"]
    assert list(source.columns) == ["time_s", "angry", "sad"]
    np.testing.assert_allclose(source.angry, curve.angry * 100)
    lines = [s for s in option["series"] if s["type"] == "line" and "encode" in s]
    assert [(s["name"], s["itemStyle"]["color"]) for s in lines] == [
        ("angry", COLORS["angry"]), ("sad", COLORS["sad"])
    ]  # fmt: skip
    assert all(("stack" in s) is stacked for s in lines)
    band = {s["name"]: s["markArea"]["data"] for s in option["series"] if "markArea" in s}
    assert band == {
        "dominant: angry": [[{"name": "dominant: angry", "xAxis": 0.0}, {"xAxis": 1.99}]],
        "dominant: sad": [
            [{"name": "dominant: sad", "xAxis": 1.99}, {"xAxis": pytest.approx(3.99)}]
        ],
    }  # each run reaches half a frame (10 ms) either side of its frames' centres
    assert [a["max"] for a in option["xAxis"]] == [3.99, 3.99]  # the band's end
    assert all(z["xAxisIndex"] == [0, 1] for z in option["dataZoom"])  # curves and band zoom as one
    assert chart.height_px == 400


def test_aligned_tracks_share_one_time_axis_and_zoom():
    chart = curve_charts.aligned_tracks({"agent": _curve(4.0), "customer": _curve(6.0)}, EMOTIONS)
    option = chart.option
    assert [len(d["source"]) for d in option["dataset"]] == [200, 300]
    assert {a["max"] for a in option["xAxis"]} == {5.98}  # both rows span the longer track
    assert [a.get("name") for a in option["xAxis"]] == [None, "time (s)"]
    assert all(z["xAxisIndex"] == [0, 1] for z in option["dataZoom"])
    assert [(s["datasetIndex"], s["xAxisIndex"]) for s in option["series"][::9]] == [(0, 0), (1, 1)]
    tops = [g["top"] for g in option["grid"]]
    assert tops[1] - tops[0] > curve_charts.TRACK_HEIGHT_PX  # rows do not overlap
    assert chart.height_px > tops[1] + curve_charts.TRACK_HEIGHT_PX


def test_short_runs_merge_into_neighbours_in_time_order():
    from core.analysis.curves import merge_short_runs

    runs = pd.DataFrame({
        "start_s": [0.0, 0.4, 3.0, 3.02, 3.04, 6.0],
        "end_s": [0.4, 3.0, 3.02, 3.04, 6.0, 6.5],
        "emotion": ["sad", "angry", "happy", "sad", "angry", "neutral"],
    })  # fmt: skip
    merged = merge_short_runs(runs, min_s=1.0)
    assert merged.values.tolist() == [[0.0, 6.5, "angry"]]
    runs.loc[5, "end_s"] = 9.0  # a long last run stays
    assert merge_short_runs(runs, 1.0).values.tolist() == [
        [0.0, 6.0, "angry"],
        [6.0, 9.0, "neutral"],
    ]


def test_dozens_of_agents_get_distinct_colours_in_sorted_order():
    agents = [f"agent {i}" for i in range(30, 0, -1)]
    trends = pd.DataFrame({
        "agent": agents, "period": pd.to_datetime(["2024-05-06"] * 30),
        "angry": 0.5, "n": 10, "low_n": False, "mean_confidence": 0.7,
    })  # fmt: skip
    figure = charts.agent_lines(trends, "angry", agents)
    legend = [t for t in figure.data if t.showlegend]
    assert [t.name for t in legend] == [f"agent {i}" for i in range(1, 31)]
    assert len({t.line.color for t in legend}) == 30


def test_agent_comparison_is_one_figure_with_share_above_confidence():
    trends = pd.DataFrame({
        "agent": ["bob", "ann", "bob"], "n": [3, 8, 9], "low_n": [True, False, False],
        "period": pd.to_datetime(["2024-05-06", "2024-05-06", "2024-05-13"]),
        "angry": [0.5, 0.25, 0.1], "mean_confidence": [0.6, 0.7, 0.8],
    })  # fmt: skip
    figure = charts.agent_lines(trends, "angry", ["bob", "ann"])
    # per agent (sorted): its share on the top axes, then its confidence on the lower ones
    assert [(t.name, t.yaxis, list(t.y)) for t in figure.data] == [
        ("ann", "y", [0.25]), ("ann", "y2", [0.7]),
        ("bob", "y", [0.5, 0.1]), ("bob", "y2", [0.6, 0.8]),
    ]  # fmt: skip
    assert [t.showlegend for t in figure.data] == [True, False, True, False]
    assert figure.data[0].line.color == figure.data[1].line.color != figure.data[2].line.color
    assert list(figure.data[2].marker.symbol) == ["circle-open", "circle"]  # bob's low first week
    assert [a.text for a in figure.layout.annotations] == ["share of 😠 angry", "mean confidence"]


def test_literal_table_shows_every_cell_and_label_as_typed():
    """st.table renders its cells as Markdown: the audit log and a clip's facts go through this."""
    from dashboard.text import literal, literal_table

    hostile = "[corp](https://evil.example) **x**"
    frame = pd.DataFrame({"detail": [hostile, None], "n": [3, 4]}, index=[hostile, "plain"])
    shown = literal_table(frame)
    assert list(shown.detail) == [literal(hostile), "—"]
    assert list(shown.n) == ["3", "4"]
    assert list(shown.index) == [literal(hostile), "plain"]
    assert "\\[corp\\]" in shown.detail.iloc[0] and "\\*\\*x\\*\\*" in shown.detail.iloc[0]


def test_literal_table_shows_times_to_the_second_and_missing_times_as_a_dash():
    """The audit log's and tokens' times: no microseconds, and a revoked_at never set is "—"."""
    from dashboard.text import literal_table

    logged = pd.to_datetime(["2026-12-02 17:31:05.123456", None])
    shown = literal_table(pd.DataFrame({"logged_at": logged, "revoked_at": [pd.NaT, pd.NaT]}))
    assert list(shown.iloc[:, 0]) == ["2026-12-02 17:31:05", "—"]
    assert list(shown.iloc[:, 1]) == ["—", "—"]


def test_the_server_zone_names_utc_or_an_offset(monkeypatch):
    import time

    from dashboard.text import server_zone

    for zone, expected in (("UTC", "UTC"), ("Asia/Shanghai", "UTC+08:00"),
                           ("America/Sao_Paulo", "UTC-03:00")):  # fmt: skip
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        assert server_zone() == expected
    monkeypatch.delenv("TZ")
    time.tzset()


def test_every_dataframe_shows_a_dash_for_a_missing_value():
    """Streamlit shows a missing cell as "None" unless the call names a placeholder (#30)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    calls = []
    for path in [*root.joinpath("pages").glob("*.py"), *root.joinpath("dashboard").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "dataframe":
                named = {k.arg: k.value for k in node.keywords}
                calls.append((f"{path.name}:{node.lineno}", ast.literal_eval(named["placeholder"])
                              if "placeholder" in named else None))  # fmt: skip
    assert len(calls) >= 15
    assert [where for where, shown in calls if shown != "—"] == []


def test_a_curve_without_frames_draws_empty_axes_and_says_so():
    from core.analysis.curves import dominant_segments

    empty = _curve(4.0).iloc[:0]
    chart = curve_charts.curve_chart(empty, EMOTIONS, True, dominant_segments(empty), "silence")
    assert chart.alt.endswith("over 0.0 s; no frames")
    assert [a["max"] for a in chart.option["xAxis"]] == [0, 0]
    assert not [s for s in chart.option["series"] if "markArea" in s]


def test_overview_mix_bars_are_coloured_and_labelled_per_emotion():
    from dashboard.charts_overview import mix_bars

    mix = pd.DataFrame({"emotion": ["sad", "angry", "sad", "happy"], "n": [3, 1, 3, 2]})
    chart = mix_bars(mix, "Emotion mix")
    (source,) = [chart.option["dataset"]["source"]]
    assert list(source.emotion)[-3:] == ["😠 angry", "😊 happy", "😢 sad"]  # highest on top
    top = source.iloc[-1]
    assert (top.emotion, top.share, top.text) == (
        "😢 sad",
        pytest.approx(66.666, 1e-3),
        "66.7% (6)",
    )
    assert chart.option["color"] == [COLORS[e.split(" ")[1]] for e in source.emotion]
    assert chart.alt.startswith("Emotion mix: sad 66.7%, happy 22.2%, angry 11.1%, ")


@pytest.mark.parametrize(
    ("weeks", "words"),
    [([], "no dated tracks"), (["2024-05-06"], "the week of 2024-05-06"),
     (["2024-05-06", "2024-05-13"], "2 weeks from 2024-05-06 to 2024-05-13")],
)  # fmt: skip
def test_overview_charts_say_which_periods_they_show(weeks, words):
    from dashboard.charts_overview import mix_over_time, negative_line

    mix = pd.DataFrame({"period_start": pd.to_datetime(weeks), "emotion": "sad", "n": 2})
    assert mix_over_time(mix, "week", "Mix").alt == f"Mix: {words}"
    shares = pd.DataFrame({"period_start": pd.to_datetime(weeks), "n": 2, "negative": 1,
                           "share": 0.5})  # fmt: skip
    line = negative_line(shares, "week", "Negative")
    assert line.alt == f"Negative: {words}" + ("; latest 50.0% (1 of 2 tracks)" if weeks else "")


def _points(agents: list[str | None], top_labels: list[str]) -> pd.DataFrame:
    n = len(agents)
    points = pd.DataFrame({
        "x": np.linspace(0, 1, n, dtype="float32"), "y": np.linspace(1, 0, n, dtype="float32"),
        "cluster": np.arange(n) % 3, "corpus": "calls", "clip_id": [f"c{i}" for i in range(n)],
        "track": "mix", "source_name": [f"{a}/{i}.wav" for i, a in enumerate(agents)],
        "agent": agents, "top_label": top_labels, "confidence": np.float32(0.737),
    })  # fmt: skip
    for column in SCORE_COLUMNS:
        points[column] = np.float32(1 / 9)
    return points


def _legend(chart) -> list[str]:
    return [piece["label"] for piece in chart.option["visualMap"]["pieces"]]


def test_cluster_map_sends_one_row_per_point_with_its_colour_group():
    points = _points(["bob", None, "alice", "bob"], ["sad", "angry", "sad", "happy"])
    chart = cluster_charts.cluster_map(points, "agent")
    source = chart.option["dataset"]["source"]
    assert _legend(chart) == ["alice", "bob", "—"]  # a clip without an agent is "—"
    assert list(source.group) == [1, 2, 0, 1]  # row i of the points is row i of the dataset
    assert list(source.agent) == ["bob", "—", "alice", "bob"]
    assert list(source.confidence) == [73.7] * 4  # percent as the tooltip prints it
    assert chart.option["series"][0]["selectedMode"] and "brush" in chart.option
    assert chart.alt == "Map of 4 clips coloured by agent: alice 1, bob 2, — 1"
    by_emotion = cluster_charts.cluster_map(points, "top_label")
    assert _legend(by_emotion) == ["angry", "happy", "sad"]  # the emotions' own order and colours
    assert [p["color"] for p in by_emotion.option["visualMap"]["pieces"]] == [
        COLORS["angry"],
        COLORS["happy"],
        COLORS["sad"],
    ]
    assert _legend(cluster_charts.cluster_map(points, "cluster")) == ["0", "1", "2"]


def test_hundreds_of_agents_keep_the_largest_and_group_the_rest():
    agents = [f"agent {i}" for i in range(400) for _ in range(1 + (i % 7 == 0))]
    chart = cluster_charts.cluster_map(_points(agents, ["sad"] * len(agents)), "agent")
    legend, pieces = _legend(chart), chart.option["visualMap"]["pieces"]
    kept = [f"agent {i}" for i in range(0, 7 * 23, 7)]  # the 23 largest (two points each)
    assert legend == [*kept, "377 other agents"]
    assert pieces[-1]["color"] == cluster_charts.OTHERS_COLOR
    assert len({p["color"] for p in pieces}) == len(pieces)
    others = chart.option["dataset"]["source"].group == len(legend) - 1
    assert others.sum() == len(agents) - 2 * 23


def test_cluster_map_shows_hostile_names_as_plain_text():
    chart = cluster_charts.cluster_map(_points([HOSTILE], ["sad"]), "agent")
    assert _legend(chart) == [plain(HOSTILE)]
    assert list(chart.option["dataset"]["source"].source_name) == [plain(f"{HOSTILE}/0.wav")]


def test_cluster_mix_stacks_each_clusters_mean_scores_in_percent():
    profile = pd.DataFrame({"cluster": [0, 1], "n": [5, 7]})
    for emotion in EMOTIONS:
        profile[emotion] = [0.5 if emotion == "sad" else 0.5 / 8,
                            0.6 if emotion == "happy" else 0.4 / 8]  # fmt: skip
    chart = cluster_charts.cluster_mix(profile)
    source = chart.option["dataset"]["source"]
    assert list(source.cluster) == ["0", "1"]
    assert source[list(EMOTIONS)].sum(axis=1).round(6).tolist() == [100.0, 100.0]
    assert [s["stack"] for s in chart.option["series"]] == ["mix"] * len(EMOTIONS)
    assert chart.alt.endswith("highest: cluster 0: sad, cluster 1: happy")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_score_bars_rank_the_nine_scores_with_their_colours_and_percentages(lang):
    """One clip's scores as ECharts bars (a page with them loads no plotly): every emotion once,
    the highest on top (a category axis runs upwards), sent in percent, each in its colour."""
    from dashboard.i18n.catalog import emotion as emotion_name
    from dashboard.score_charts import score_bars

    scores = pd.Series({f"score_{e}": v for e, v in zip(EMOTIONS, np.linspace(0.01, 0.2, 9),
                                                        strict=True)})  # fmt: skip
    scores["score_sad"] = 0.6
    chart = score_bars(scores, lang=lang)
    source = chart.option["dataset"]["source"]
    assert len(source) == 9 and source.score.is_monotonic_increasing
    assert source.emotion.iloc[-1].endswith(emotion_name("sad", lang))
    assert source.score.iloc[-1] == pytest.approx(60.0)
    assert chart.option["color"][-1] == COLORS["sad"]
    assert chart.option["xAxis"]["max"] == 105.0
    assert chart.alt.startswith(emotion_name("sad", lang)) and len(chart.alt.split(", ")) == 9
