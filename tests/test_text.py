"""User-supplied names reach Markdown and Plotly as literal text (#14 item 6)."""

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
    heatmap = charts.trend_heatmap(trends, "angry")
    assert plot_label(HOSTILE) in list(heatmap.data[0].y)
    assert all("<a" not in str(y) for y in heatmap.data[0].y)
    lines = charts.agent_lines(trends, "angry", [HOSTILE])
    assert lines.data[0].name == plot_label(HOSTILE)
    assert "<a" not in lines.data[0].hovertemplate.split(":")[0]
    curves = charts.aligned_tracks({HOSTILE: pd.DataFrame({"time_s": [0.0], "angry": [1.0]})},
                                   ["angry"], title=HOSTILE)  # fmt: skip
    assert curves.layout.title.text == plot_label(HOSTILE)
    assert curves.layout.annotations[0].text == plot_label(HOSTILE)
