"""Pure builders for the Overview page: figures (DataFrame in, plotly Figure out) and link labels.

No Streamlit, no database.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.labels import COLORS, EMOJI, EMOTIONS

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend_title_text": ""}


def audio_text(seconds: float) -> str:
    """An amount of audio as a PM reads it: hours from one hour up, else minutes."""
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:,.1f} min"


def mix_bars(mix: pd.DataFrame, title: str = "") -> go.Figure:
    """Share of tracks by top emotion over the whole selection (mix: emotion, n)."""
    totals = mix.groupby("emotion").n.sum().reindex(list(EMOTIONS), fill_value=0)
    shares = totals / max(int(totals.sum()), 1)
    order = shares.sort_values().index
    fig = go.Figure(go.Bar(
        x=shares[order].to_numpy(), y=[f"{EMOJI[e]} {e}" for e in order], orientation="h",
        marker_color=[COLORS[e] for e in order],
        text=[f"{shares[e]:.1%} ({totals[e]})" for e in order], textposition="outside",
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))  # fmt: skip
    top = float(shares.max()) if len(shares) else 1.0
    fig.update_layout(title=title, height=330, xaxis={"tickformat": ".0%",
                      "range": [0, min(1.0, top * 1.35 + 0.05)]}, **_LAYOUT)  # fmt: skip
    return fig


def mix_over_time(mix: pd.DataFrame, period: str, title: str = "") -> go.Figure:
    """Stacked shares of each top emotion per period, with n per period on hover."""
    dated = mix.dropna(subset=["period_start"])
    table = dated.pivot_table(index="period_start", columns="emotion", values="n",
                              aggfunc="sum", fill_value=0).reindex(columns=list(EMOTIONS), fill_value=0)  # fmt: skip
    totals = table.sum(axis=1)
    shares = table.div(totals.where(totals > 0, 1), axis=0)
    fig = go.Figure()
    for emotion in EMOTIONS:
        fig.add_trace(go.Bar(
            x=shares.index, y=shares[emotion], name=f"{EMOJI[emotion]} {emotion}",
            marker_color=COLORS[emotion], customdata=list(zip(table[emotion], totals, strict=True)),
            hovertemplate=f"{emotion} %{{y:.1%}} (%{{customdata[0]}} of %{{customdata[1]}})"
                          f"<extra>{period} of %{{x|%Y-%m-%d}}</extra>",
        ))  # fmt: skip
    fig.update_layout(barmode="stack", title=title, height=330, yaxis={"tickformat": ".0%"},
                      xaxis={"title": f"{period} starting"}, **_LAYOUT)  # fmt: skip
    return fig


def negative_line(shares: pd.DataFrame, period: str, title: str = "") -> go.Figure:
    """Negative share per period (shares: period_start, n, negative, share)."""
    fig = go.Figure(go.Scatter(
        x=shares.period_start, y=shares.share, mode="lines+markers", line={"color": COLORS["angry"]},
        customdata=list(zip(shares.negative, shares.n, strict=True)),
        hovertemplate="%{y:.1%} (%{customdata[0]} of %{customdata[1]} tracks)"
                      f"<extra>{period} of %{{x|%Y-%m-%d}}</extra>",
    ))  # fmt: skip
    fig.update_layout(title=title, height=260, yaxis={"tickformat": ".0%", "rangemode": "tozero"},
                      xaxis={"title": f"{period} starting"}, **_LAYOUT)  # fmt: skip
    return fig
