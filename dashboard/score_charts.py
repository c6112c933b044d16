"""Bars of the nine emotions as ECharts: one clip's scores (Clips' open clip, Upload's result)
and the Overview's mix share the builder. Pure builders, values in, EChart out. ECharts rather
than plotly: a page that opens with these bars loads no plotly bundle at all
(`dashboard/echart.py` says why that matters)."""

from __future__ import annotations

import pandas as pd

from core.model.labels import COLORS, EMOJI, EMOTIONS
from dashboard.echart import GRID, EChart, percent_axis, title
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.i18n.catalog import percent


def emotion_bars(values: pd.Series, texts: dict[str, str], heading: str, lang: str,
                 max_percent: float, column: str) -> EChart:  # fmt: skip
    """Horizontal bars of `values` (emotion -> 0–1, sent in percent as `column`), highest on
    top, each labelled with its text; the alt text ranks the emotions with their percentages."""
    order = list(values.sort_values(kind="stable").index)  # a category axis runs upwards
    source = pd.DataFrame({
        "emotion": [f"{EMOJI[e]} {emotion_name(e, lang)}" for e in order],
        column: values[order].to_numpy() * 100,
        "text": [texts[e] for e in order],
    })  # fmt: skip
    option = {
        "animation": False,
        "title": title(heading),
        "color": [COLORS[e] for e in order],  # one colour per bar, in the bars' order
        "dataset": {"source": source},
        "grid": GRID,
        "tooltip": {"trigger": "item", "formatter": "{b}: {@text}"},
        "xAxis": percent_axis(max_percent=max_percent),
        "yAxis": {"type": "category"},
        "series": [{
            "type": "bar", "colorBy": "data", "encode": {"x": column, "y": "emotion"},
            "label": {"show": True, "position": "right", "formatter": "{@text}"},
        }],
    }  # fmt: skip
    ranked = ", ".join(
        f"{emotion_name(e, lang)} {percent(values[e], lang)}" for e in reversed(order)
    )
    return EChart(option, height_px=330, alt=f"{heading}: {ranked}" if heading else ranked)


def score_bars(scores: pd.Series, heading: str = "", lang: str = "en") -> EChart:
    """One clip's 9 scores (index: emotion or score_<emotion>, 0–1), labelled in percent."""
    values = pd.Series({e: float(scores.get(e, scores.get(f"score_{e}", 0.0))) for e in EMOTIONS})
    return emotion_bars(values, {e: percent(v, lang) for e, v in values.items()}, heading, lang,
                        max_percent=105.0, column="score")  # fmt: skip
