"""Pure figure builders of the Model check page: DataFrame in, plotly Figure out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.model.labels import EMOJI
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.i18n.catalog import tr
from dashboard.text import plot_label, plot_labels

_LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend_title_text": ""}


def row_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """Each row divided by its total (a row of zeros stays zero): recall on the diagonal."""
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0).fillna(0.0)


def confusion_figure(counts: pd.DataFrame, normalised: bool, title: str = "",
                     lang: str = "en") -> go.Figure:  # fmt: skip
    """The confusion matrix as a heatmap: rows the user's class (index), columns the model's
    top emotion; cells show counts, or row shares when `normalised`, and hover shows both.

    Plotly heatmaps send no click events, so an invisible marker sits on every cell (trace 1,
    customdata [label class, predicted class]): clicking a cell selects its marker.
    """
    shares = row_shares(counts)
    shown = shares if normalised else counts
    text = [[f"{v:.0%}" if normalised else f"{int(v)}" for v in row] for row in shown.to_numpy()]
    names = {
        e: f"{EMOJI.get(e, '')} {emotion_name(e, lang)}" for e in [*counts.index, *counts.columns]
    }
    fig = go.Figure(go.Heatmap(
        z=shown.to_numpy(dtype=float), x=[names[e] for e in counts.columns],
        y=[names[e] for e in counts.index], text=text, texttemplate="%{text}",
        colorscale="Blues", zmin=0, zmax=1 if normalised else None, showscale=False,
        hoverinfo="skip",
    ))  # fmt: skip
    cells = [(t, p) for t in counts.index for p in counts.columns]
    fig.add_trace(go.Scatter(
        x=[names[p] for _, p in cells], y=[names[t] for t, _ in cells], mode="markers",
        marker={"size": 36, "color": "rgba(0,0,0,0)"}, showlegend=False,
        customdata=[[t, p, int(counts.at[t, p]), float(shares.at[t, p])] for t, p in cells],
        hovertemplate=tr(lang, "label {label} → model {model}: clips {n}, {share} of the row (click "
                           "to list them)").format(label="%{customdata[0]}", model="%{customdata[1]}",
                                                   n="%{customdata[2]}", share="%{customdata[3]:.1%}")
        + "<extra></extra>",
        selected={"marker": {"opacity": 0}}, unselected={"marker": {"opacity": 0}},
    ))  # fmt: skip
    fig.update_layout(
        title=plot_label(title),
        xaxis={"title": tr(lang, "model's top emotion"), "side": "top"},
        yaxis={"title": tr(lang, "your label"), "autorange": "reversed"},
        height=120 + 40 * len(counts.index),
        clickmode="event+select",
        **_LAYOUT,
    )
    return fig


def clicked_cell(points: list[dict]) -> tuple[str, str] | None:
    """(label class, predicted class) of a cell clicked in `confusion_figure`, else None."""
    for point in points:
        data = point.get("customdata")
        if point.get("curve_number") == 1 and data and len(data) >= 2:
            return str(data[0]), str(data[1])
    return None


def comparison_figure(summary: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Accuracy and macro-F1 per model (columns model, metric, value, low, high) as grouped
    bars with their bootstrap intervals as error bars."""
    fig = go.Figure()
    for metric, rows in summary.groupby("metric", sort=False):
        fig.add_trace(go.Bar(
            x=plot_labels(rows.model), y=rows.value, name=plot_label(tr(lang, metric)),
            error_y={"type": "data", "symmetric": False, "array": rows.high - rows.value,
                     "arrayminus": rows.value - rows.low},
            hovertemplate=f"{plot_label(metric)} %{{y:.3f}}<extra>%{{x}}</extra>",
        ))  # fmt: skip
    fig.update_layout(barmode="group", yaxis={"range": [0, 1], "title": ""}, height=320,
                      title=tr(lang, "accuracy and macro-F1, 95% intervals"), **_LAYOUT)  # fmt: skip
    return fig


def class_f1_figure(per_class: pd.DataFrame, lang: str = "en") -> go.Figure:
    """F1 per class (columns model, class, f1) for each model side by side."""
    fig = go.Figure()
    for model, rows in per_class.groupby("model", sort=False):
        fig.add_trace(go.Bar(x=[emotion_name(c, lang) for c in rows["class"]], y=rows.f1,
                             name=plot_label(model),
                             hovertemplate="%{x}: F1 %{y:.3f}<extra></extra>"))  # fmt: skip
    fig.update_layout(barmode="group", yaxis={"range": [0, 1]}, height=320,
                      title=tr(lang, "F1 per class"), **_LAYOUT)  # fmt: skip
    return fig
