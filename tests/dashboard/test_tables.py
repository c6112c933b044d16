"""The trend grid: shares as numbers, shaded by share, low-n cells marked, empty cells empty."""

import pandas as pd

from core.model.labels import COLORS
from dashboard import tables

WEEKS = pd.to_datetime(["2024-05-06", "2024-05-13"])


def trends_of(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["agent", "period", "angry", "n", "low_n"])


def shown(styler) -> tuple[list[list[str]], list[list[str]]]:
    """The grid's cell texts and CSS as Streamlit receives them (pandas' translated styler)."""
    styler._compute()  # as streamlit.elements.lib.pandas_styler_utils does
    translated = styler._translate(False, False)
    texts = [[c["display_value"] for c in row[1:]] for row in translated["body"]]
    css = {(r, c): "; ".join(f"{k}: {v}" for k, v in props) for (r, c), props in styler.ctx.items()}
    rows, cols = styler.data.shape
    return texts, [[css.get((r, c), "") for c in range(cols)] for r in range(rows)]


def test_the_grid_holds_agents_by_periods_with_shares_and_marks_low_cells():
    trends = trends_of([("ann", WEEKS[0], 0.5, 4, True), ("ann", WEEKS[1], 1.0, 9, False),
                        ("bob", WEEKS[0], 0.25, 8, False)])  # fmt: skip
    styler = tables.trend_grid(trends, "angry")
    assert list(styler.data.index) == ["ann", "bob"]
    assert list(styler.data.columns) == ["2024-05-06", "2024-05-13"]
    assert styler.data.loc["bob", "2024-05-06"] == 0.25  # numbers, so a column sorts by share
    texts, css = shown(styler)
    assert texts == [["50% low", "100%"], ["25%", ""]]  # bob had no clips in the second week
    assert css[1][1] == ""  # an empty cell is not shaded as 0 %
    assert f"background-color: {COLORS['angry']}" in css[0][1]  # 100 %: the emotion's colour
    assert "color: #ffffff" in css[0][1]  # light text on a dark cell


def test_shading_runs_from_light_grey_at_none_to_the_emotion_colour():
    trends = trends_of([("ann", WEEKS[0], 0.0, 10, False), ("ann", WEEKS[1], 0.5, 10, False)])
    texts, css = shown(tables.trend_grid(trends.rename(columns={"angry": "sad"}), "sad"))
    assert texts == [["0%", "50%"]]
    assert f"background-color: {tables.EMPTY_CELL}" in css[0][0] and "#111111" in css[0][0]
    low, high = tables._rgb(tables.EMPTY_CELL), tables._rgb(COLORS["sad"])
    middle = "#" + "".join(f"{round((a + b) / 2):02x}" for a, b in zip(low, high, strict=True))
    assert f"background-color: {middle}" in css[0][1]


def test_names_are_kept_as_typed():
    """The grid draws on a canvas: a name is text, never markup, so it is not escaped."""
    hostile = "<a href='x'>[ann](y)</a>"
    styler = tables.trend_grid(trends_of([(hostile, WEEKS[0], 0.5, 9, False)]), "angry")
    assert list(styler.data.index) == [hostile]
