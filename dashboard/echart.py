"""What every ECharts builder shares: the chart record and a few option parts.

Charts a page opens with are drawn by `st.echarts_chart` rather than plotly: a fresh browser
runs ECharts' 1.2 MB bundle about a second sooner than plotly's 4.7 MB, and that second took
pages past 3 s to open at 1M clips (#9). Data goes to the browser as an Arrow `dataset`.
ECharts draws every string as plain text, so names need no escaping, only `plain`; tooltip
templates are HTML, and values inserted into them with `{@column}` are escaped by Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.text import plain

PERCENT_TOOLTIP = "%.1f %%"
# The plot area of a chart with a title and labelled axes (ECharts counts the labels in).
GRID = {
    "left": 8,
    "right": 16,
    "top": 48,
    "bottom": 8,
    "containLabel": True,
}  # a Streamlit number format for tooltip values in percent


@dataclass(frozen=True)
class EChart:
    """An ECharts option, the height it needs (an option has no size of its own) and what it
    shows in words, for screen readers (ECharts' own description lists raw numbers)."""

    option: dict
    height_px: int
    alt: str


def title(text: str, **style) -> dict:
    """A chart title as plain text (bidi controls neutralised)."""
    return {"text": plain(text), "left": 0, "textStyle": {"fontSize": 14, **style}}


def percent_axis(index: int = 0, max_percent: float | None = 100.0, **axis) -> dict:
    """A value axis from 0 to `max_percent` (None: to what the data reach), labelled in percent
    (values are sent in percent)."""
    top = {} if max_percent is None else {"max": max_percent}
    return {"type": "value", "gridIndex": index, "min": 0, **top,
            "axisLabel": {"formatter": "{value} %"}, **axis}  # fmt: skip
