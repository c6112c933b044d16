"""One clip's nine scores as ECharts bars (Clips' open clip, Upload's result): a pure builder,
scores in, EChart out. ECharts rather than plotly: a page that opens with these bars then loads
no plotly bundle at all (`dashboard/echart.py` says why that matters)."""

from __future__ import annotations

import pandas as pd

from core.model.labels import COLORS, EMOJI, EMOTIONS
from dashboard.echart import EChart, percent_axis, title
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.i18n.catalog import percent

_GRID = {"left": 8, "right": 16, "top": 40, "bottom": 8, "containLabel": True}


def score_bars(scores: pd.Series, heading: str = "", lang: str = "en") -> EChart:
    """Horizontal bars of the 9 scores (index: emotion or score_<emotion>, 0–1), highest on
    top, each labelled with its percentage."""
    values = pd.Series({e: float(scores.get(e, scores.get(f"score_{e}", 0.0))) for e in EMOTIONS})
    order = list(values.sort_values(kind="stable").index)  # a category axis runs upwards
    source = pd.DataFrame({
        "emotion": [f"{EMOJI[e]} {emotion_name(e, lang)}" for e in order],
        "score": values[order].to_numpy() * 100,
        "text": [percent(values[e], lang) for e in order],
    })  # fmt: skip
    option = {
        "animation": False,
        "title": title(heading),
        "color": [COLORS[e] for e in order],  # one colour per bar, in the bars' order
        "dataset": {"source": source},
        "grid": _GRID,
        "tooltip": {"trigger": "item", "formatter": "{b}: {@text}"},
        "xAxis": percent_axis(max_percent=105.0),
        "yAxis": {"type": "category"},
        "series": [{
            "type": "bar", "colorBy": "data", "encode": {"x": "score", "y": "emotion"},
            "label": {"show": True, "position": "right", "formatter": "{@text}"},
        }],
    }  # fmt: skip
    ranked = ", ".join(
        f"{emotion_name(e, lang)} {percent(values[e], lang)}" for e in reversed(order)
    )
    return EChart(option, height_px=330, alt=f"{heading}: {ranked}" if heading else ranked)
