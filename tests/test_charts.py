"""Pure chart builders and user text: names as literal text (#14), readable charts (#10)."""

from __future__ import annotations

import pandas as pd

from dashboard import charts
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
    curves = charts.aligned_tracks({HOSTILE: pd.DataFrame({"time_s": [0.0], "angry": [1.0]})},
                                   ["angry"], title=HOSTILE)  # fmt: skip
    assert curves.layout.title.text == plot_label(HOSTILE)
    assert curves.layout.annotations[0].text == plot_label(HOSTILE)


def test_short_runs_merge_into_neighbours_in_time_order():
    from core.analytics import merge_short_runs

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
