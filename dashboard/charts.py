"""Pure figure builders: DataFrame in, plotly Figure out. No Streamlit, no database.

The Overview's charts, frame curves and the Clusters page are ECharts, in `charts_overview`,
`curve_charts` and `cluster_charts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.colors as pc
import plotly.graph_objects as go

from core.model.labels import EMOJI
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.i18n.catalog import tr
from dashboard.text import natural_key, plot_label

# Distinct colours for dozens of agents or corpora (plotly's 10-colour default repeats at 11).
NAME_PALETTE = (*pc.qualitative.Dark24, *pc.qualitative.Light24, *pc.qualitative.Alphabet)
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend_title_text": ""}


def agent_lines(trends: pd.DataFrame, emotion: str, agents: Sequence[str],
                lang: str = "en") -> go.Figure:  # fmt: skip
    """Agents compared over periods in one figure: the share of `emotion` on top, mean
    confidence below, on a shared time axis with one legend; low-n points drawn hollow.

    One figure rather than two: the periods line up, and a browser lays out one plot.
    """
    from plotly.subplots import make_subplots

    rows = {emotion: tr(lang, "share of {emotion}").format(
                emotion=f"{EMOJI[emotion]} {emotion_name(emotion, lang)}"),
            "mean_confidence": tr(lang, "mean confidence")}  # fmt: skip
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=list(rows.values()))  # fmt: skip
    for i, agent in enumerate(sorted(agents, key=natural_key)):
        points = trends[trends.agent == agent]
        name, color = plot_label(agent), NAME_PALETTE[i % len(NAME_PALETTE)]
        symbols = ["circle-open" if low else "circle" for low in points.low_n]
        for row, value in enumerate(rows, start=1):
            fig.add_trace(go.Scatter(
                x=points.period, y=points[value], name=name, legendgroup=name, showlegend=row == 1,
                mode="lines+markers", line={"color": color}, marker={"symbol": symbols, "size": 8},
                customdata=points.n, hovertemplate=f"{name}: %{{y:.0%}} (n=%{{customdata}})<extra></extra>",
            ), row=row, col=1)  # fmt: skip
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_layout(height=520, **_LAYOUT)
    return fig
