"""The Clusters page's charts as Apache ECharts options: pure builders, DataFrame in, EChart out.

The map of 20,000 points took a fresh browser past 3 s as a plotly figure (#9); why ECharts:
`dashboard/echart.py`. Points go to the browser as one Arrow dataset, one row per point, so a
brush selection's row numbers index the very frame the map was built from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.model.labels import COLORS, EMOTIONS
from dashboard.echart import PERCENT_TOOLTIP, EChart, percent_axis
from dashboard.i18n.catalog import N_, tr
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.text import natural_key, plain

MAX_GROUPS = 24  # named colours; beyond this the smallest groups share one grey "others"
OTHERS_COLOR = "#b0b0b0"
# Distinct colours for groups that have none of their own (clusters, agents, corpora).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e6550d", "#31a354", "#843c39", "#7b4173", "#3182bd",
    "#fd8d3c", "#74c476", "#ad494a", "#a55194", "#6b6ecf", "#e7ba52", "#637939", "#d6616b",
)  # fmt: skip
_OTHERS = {  # the merged group's name: "12 other agents"
    "cluster": N_("{n} other clusters"), "top_label": N_("{n} other emotions"),
    "agent": N_("{n} other agents"), "corpus": N_("{n} other corpora"),
}  # fmt: skip
_COLOUR_BY = {"cluster": N_("cluster"), "top_label": N_("top emotion"), "agent": N_("agent"),
              "corpus": N_("corpus")}  # fmt: skip
# The clip's scores are listed when its point is selected; the tooltip stays one glance.
_TOOLTIP = "<b>{@source_name}</b><br/>{@top_label} {@confidence} %<br/>"


def cluster_map(points: pd.DataFrame, color_by: str, lang: str = "en") -> EChart:
    """The 2-D projection (points: x, y, cluster and the clip's columns), coloured by cluster,
    top_label, agent or corpus; the tooltip names the clip, its top emotion, agent and cluster.

    A click, or a rectangle or lasso from the chart's toolbar, selects points; the selection's
    data indices are rows of `points`.
    """
    groups, capped = _groups(points[color_by], color_by, lang)
    names = list(groups.cat.categories)
    colors = [_color(name, color_by, i) for i, name in enumerate(names)]
    if capped:
        colors[-1] = OTHERS_COLOR
    source = _source(points, groups.cat.codes.to_numpy(), lang)
    option = {
        "animation": False,
        "grid": {"left": 8, "right": 200, "top": 40, "bottom": 8},
        "toolbox": {
            "left": 0,
            "top": 0,
            "feature": {"brush": {"type": ["rect", "polygon", "clear"]}},
        },
        "brush": {
            "xAxisIndex": 0,
            "throttleType": "debounce",
            "throttleDelay": 300,
            "outOfBrush": {"colorAlpha": 0.15},
        },
        "tooltip": {
            "trigger": "item",
            "formatter": _TOOLTIP
            + tr(lang, "agent {agent} · cluster {cluster}").format(
                agent="{@agent}", cluster="{@cluster}"
            ),
        },
        "dataset": {"source": source},
        "xAxis": _hidden_axis(source.x),
        "yAxis": _hidden_axis(source.y),
        "visualMap": {
            "type": "piecewise",
            "dimension": "group",
            "seriesIndex": 0,
            "orient": "vertical",
            "inverse": True,  # the first group on top
            "right": 0,
            "top": 40,
            "itemGap": 4,
            "textStyle": {"width": 170, "overflow": "truncate"},
            "pieces": [
                {"value": i, "label": _group_label(n, color_by, lang), "color": c}
                for i, (n, c) in enumerate(zip(names, colors, strict=True))
            ],
        },
        "series": [
            {
                "type": "scatter",
                "encode": {"x": "x", "y": "y", "tooltip": ["source_name"]},
                "symbolSize": 7,
                "selectedMode": "multiple",  # a click selects a point too
                "itemStyle": {"opacity": 0.85},
                "progressive": 0,
            }
        ],
    }
    counts = groups.value_counts(sort=False)
    alt = tr(lang, "Map of {n} clips coloured by {colour}: ").format(
        n=f"{len(points):,}", colour=tr(lang, _COLOUR_BY[color_by])
    ) + ", ".join(f"{_group_label(name, color_by, lang)} {counts[name]:,}" for name in names)
    return EChart(option, height_px=520, alt=alt)


def cluster_mix(profile: pd.DataFrame, lang: str = "en") -> EChart:
    """Each cluster's mean emotion scores as a stacked bar (profile: cluster, n, one column per
    emotion, 0–1), in percent."""
    source = pd.DataFrame({"cluster": profile.cluster.astype(str).to_numpy()})
    for emotion in EMOTIONS:
        source[emotion] = profile[emotion].astype("float64").to_numpy() * 100
    option = {
        "animation": False,
        "legend": {"data": [emotion_name(e, lang) for e in EMOTIONS], "top": 0, "type": "scroll"},
        "tooltip": {"trigger": "axis", "valueFormatter": PERCENT_TOOLTIP},
        "dataset": {"source": source},
        "grid": {"left": 8, "right": 16, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "name": tr(lang, "cluster"), "nameLocation": "middle",
                  "nameGap": 24},
        "yAxis": percent_axis(),
        "series": [{"type": "bar", "name": emotion_name(e, lang), "stack": "mix", "itemStyle": {"color": COLORS[e]},
                    "encode": {"x": "cluster", "y": e}} for e in EMOTIONS],
    }  # fmt: skip
    tops = ", ".join(
        tr(lang, "cluster {cluster}: {emotion}").format(
            cluster=c, emotion=emotion_name(max(EMOTIONS, key=lambda e, r=r: r[e]), lang))
        for c, r in zip(source.cluster, profile.to_dict("records"), strict=True)
    )  # fmt: skip
    alt = tr(lang, "Mean emotion scores per cluster; highest: {tops}").format(tops=tops)
    return EChart(option, height_px=320, alt=alt)


def _group_label(name: str, color_by: str, lang: str) -> str:
    """A colour group's name as shown: an emotion in the page's language, data as stored."""
    if color_by == "top_label" and name in COLORS:
        return emotion_name(name, lang)
    return plain(name)


def _groups(values: pd.Series, color_by: str, lang: str = "en") -> tuple[pd.Series, bool]:
    """The colour group of each point as a categorical, in natural order, and whether groups
    were merged: past MAX_GROUPS the smallest become one "N other <noun>" group, listed last."""
    named = values.astype("object").where(values.notna(), "—").astype(str)
    counts = named.value_counts()
    if len(counts) > MAX_GROUPS:
        kept = set(
            sorted(counts.index, key=lambda v: (-counts[v], natural_key(v)))[: MAX_GROUPS - 1]
        )
        others = tr(lang, _OTHERS[color_by]).format(n=len(counts) - len(kept))
        named = named.where(named.isin(kept), others)
        order = [*sorted(kept, key=natural_key), others]
    elif color_by == "top_label":
        order = [e for e in EMOTIONS if e in counts.index]
    else:
        order = sorted(counts.index, key=natural_key)
    grouped = pd.Series(pd.Categorical(named, categories=order), index=values.index)
    return grouped, len(counts) > MAX_GROUPS


def _color(name: str, color_by: str, index: int) -> str:
    """An emotion's own colour, else the palette's in the groups' order."""
    if color_by == "top_label" and name in COLORS:
        return COLORS[name]
    return PALETTE[index % len(PALETTE)]


def _hidden_axis(values: pd.Series) -> dict:
    """A value axis with no line or labels (map coordinates mean nothing), spanning the points
    with a margin: a point on the edge would be cut in half, and a selection drawn from the edge
    must be able to start outside every point."""
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    margin = (high - low) * 0.05 or 1.0
    return {"type": "value", "show": False, "min": low - margin, "max": high + margin}


def _source(points: pd.DataFrame, group_codes: np.ndarray, lang: str = "en") -> pd.DataFrame:
    """One row per point with what the tooltip shows; confidence in percent to 0.1 (float64:
    a float32 prints as 73.69999694824219)."""
    return pd.DataFrame({
        "x": points.x.astype("float32").to_numpy(), "y": points.y.astype("float32").to_numpy(),
        "group": group_codes.astype("int16"),
        "source_name": [plain(v) for v in points.source_name],
        "top_label": [emotion_name(e, lang) for e in points.top_label.astype(str)],
        "confidence": (points.confidence.astype("float64") * 100).round(1).to_numpy(),
        "agent": [plain(v) if isinstance(v, str) else "—" for v in points.agent],
        "cluster": points.cluster.astype(str).to_numpy(),
    })  # fmt: skip
