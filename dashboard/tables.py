"""Pure table builders: DataFrame in, a styled pandas table out. No Streamlit, no database.

A styled table is drawn by Streamlit's data grid, which every page already loads; a plotly
figure costs a fresh browser about a second of parsing plotly.js before it shows
(bench/results/page-breakdown.md), so a page's first view prefers tables.
"""

from __future__ import annotations

import functools

import pandas as pd
from pandas.io.formats.style import Styler

from core.model.labels import COLORS

EMPTY_CELL = "#f7f7f7"  # the colour of a 0 % cell: light, so a share of 0 reads as "none"


def trend_grid(trends: pd.DataFrame, emotion: str, low_text: str = "low") -> Styler:
    """Agents (rows) x periods (columns, "YYYY-MM-DD"): the share of `emotion`, shaded from
    light grey at 0 % to the emotion's colour at 100 %.

    Cells with few clips are shown, not hidden: their text says `low_text`. A period an agent has no
    clips in is an empty, white cell. Values stay numbers, so a column still sorts by share.
    """
    grid = trends.pivot(index="agent", columns="period", values=emotion)
    low = trends.pivot(index="agent", columns="period", values="low_n")
    low = low.astype("boolean").fillna(False).astype(bool)
    labels = [p.strftime("%Y-%m-%d") for p in grid.columns]
    grid.columns, low.columns = labels, labels
    grid.index.name = "agent"
    styler = grid.style.format("{:.0%}", na_rep="")
    # One format call per agent, not per period: a year of days has ~360 columns, ~0.4 s of calls.
    for agent in low.index[low.any(axis=1)]:
        columns = low.columns[low.loc[agent]]
        styler = styler.format(
            "{:.0%} " + low_text.replace("{", "{{").replace("}", "}}"),
            subset=pd.IndexSlice[[agent], columns],
        )

    def css(share: float) -> str:
        # Rounded to 0.1 % (finer than 255 colour steps), shares repeat, so each CSS string is
        # built once: a year of days is ~11,000 cells.
        return "" if pd.isna(share) else _cell_css(round(float(share), 3), COLORS[emotion])

    return styler.apply(lambda shares: shares.map(css), axis=None)


@functools.lru_cache(maxsize=4096)
def _cell_css(share: float, color: str) -> str:
    """Background between EMPTY_CELL and `color` by share; dark text on light cells."""
    low, high = _rgb(EMPTY_CELL), _rgb(color)
    mixed = [round(a + (b - a) * min(max(share, 0.0), 1.0)) for a, b in zip(low, high, strict=True)]
    luminance = (0.299 * mixed[0] + 0.587 * mixed[1] + 0.114 * mixed[2]) / 255
    text = "#111111" if luminance > 0.55 else "#ffffff"
    return "background-color: #{:02x}{:02x}{:02x}; color: {}".format(*mixed, text)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    value = hex_color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
