"""Pure figure builders: DataFrame in, plotly Figure out. No Streamlit, no database.

The Overview's charts and frame curves are ECharts, in `charts_overview` and `curve_charts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors as pc
import plotly.graph_objects as go

from core.labels import COLORS, EMOJI, EMOTIONS, SCORE_COLUMNS
from dashboard.text import plot_label, plot_labels

# Distinct colours for dozens of agents or corpora (plotly's 10-colour default repeats at 11).
NAME_PALETTE = (*pc.qualitative.Dark24, *pc.qualitative.Light24, *pc.qualitative.Alphabet)
_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend_title_text": ""}


def score_bars(scores: pd.Series, title: str = "") -> go.Figure:
    """Horizontal bars of the 9 scores (index: emotion or score_<emotion>), highest on top."""
    values = pd.Series({e: float(scores.get(e, scores.get(f"score_{e}", 0.0))) for e in EMOTIONS})
    values = values.sort_values()
    fig = go.Figure(go.Bar(
        x=values.to_numpy(), y=[f"{EMOJI[e]} {e}" for e in values.index], orientation="h",
        marker_color=[COLORS[e] for e in values.index], text=[f"{v:.1%}" for v in values],
        textposition="outside",
    ))  # fmt: skip
    fig.update_layout(
        title=plot_label(title),
        xaxis={"range": [0, 1.05], "tickformat": ".0%"},
        height=330,
        **_LAYOUT,
    )
    return fig


def cluster_scatter(points: pd.DataFrame, color_by: str) -> go.Figure:
    """The 2-D projection, coloured by cluster / top_label / agent / corpus; hover names the clip.

    A point's customdata starts with its row in `points`, which maps a selection back to clips.
    """
    import plotly.express as px  # 0.3 s to import: only the Clusters page pays it

    # Each point carries its row number, not its 64-character clip id, and its scores rounded
    # to what the hover shows: the map of 20,000 points was a 7 MB figure for the browser.
    # (float64 first: a rounded float32 still prints as 0.01600000075995922.)
    rounded = {c: points[c].astype("float64").round(3) for c in (*SCORE_COLUMNS, "confidence")}
    data = points.assign(cluster=points.cluster.astype(str), agent=points.agent.fillna("—"),
                         row=np.arange(len(points)), **rounded)  # fmt: skip
    data = data.assign(**{c: plot_labels(data[c]) for c in ("agent", "corpus", "source_name")
                          if c in data})  # fmt: skip
    colors = COLORS if color_by == "top_label" else None
    fig = px.scatter(
        data, x="x", y="y", color=color_by, color_discrete_map=colors,
        color_discrete_sequence=NAME_PALETTE,
        category_orders={color_by: sorted(data[color_by].dropna().unique(), key=_natural)},
        hover_name="source_name", custom_data=["row"],
        hover_data={"x": False, "y": False, "top_label": True, "confidence": ":.1%",
                    "agent": True, "cluster": True, **{c: ":.2f" for c in SCORE_COLUMNS}},
    )  # fmt: skip
    fig.update_traces(marker={"size": 8, "opacity": 0.85})
    fig.update_layout(
        height=520, dragmode="lasso", xaxis_visible=False, yaxis_visible=False, **_LAYOUT
    )
    return fig


def cluster_mix(profile: pd.DataFrame) -> go.Figure:
    """Each cluster's mean emotion scores as a stacked bar."""
    fig = go.Figure()
    for emotion in EMOTIONS:
        fig.add_trace(go.Bar(x=profile.cluster.astype(str), y=profile[emotion], name=emotion,
                             marker_color=COLORS[emotion]))  # fmt: skip
    fig.update_layout(barmode="stack", height=320, xaxis_title="cluster",
                      yaxis={"tickformat": ".0%"}, **_LAYOUT)  # fmt: skip
    return fig


def agent_lines(trends: pd.DataFrame, emotion: str, agents: Sequence[str]) -> go.Figure:
    """Agents compared over periods in one figure: the share of `emotion` on top, mean
    confidence below, on a shared time axis with one legend; low-n points drawn hollow.

    One figure rather than two: the periods line up, and a browser lays out one plot.
    """
    from plotly.subplots import make_subplots

    rows = {emotion: f"share of {EMOJI[emotion]} {emotion}", "mean_confidence": "mean confidence"}
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=list(rows.values()))  # fmt: skip
    for i, agent in enumerate(sorted(agents, key=_natural)):
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


def _natural(value) -> tuple:
    """Sort key that puts 'agent 2' before 'agent 10' and cluster '2' before '10'."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", str(value)))
