"""What was said, on the pages (#26): a curve whose transcript bands can be clicked, the table
of lines, and where the audio player starts once a line is picked. The builders are in
dashboard.transcript_charts; pages read the lines with dashboard.reads.transcript.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import i18n, transcript_charts, widgets
from dashboard.echart import EChart
from dashboard.i18n import _


def curve(chart: EChart, key: str, lines: pd.DataFrame) -> int | None:
    """Draw a curve chart (dashboard.curve_charts.curve_chart, given `lines`); with lines, a
    click on a band selects its line: that line's row in `lines`, else None."""
    if lines.empty:
        widgets.echart(chart, key=key)
        return None
    event = st.echarts_chart(chart.option, height=chart.height_px, key=key, alt=chart.alt,
                             on_select="rerun")  # fmt: skip
    return band_pick(event["selection"], len(lines))  # (a dict when AppTest sets it)


def band_pick(selection, rows: int) -> int | None:
    """The line whose band is selected (a row below `rows`), or None."""
    for group in selection.get("selected", []):
        picked = [i for i in group.get("data_indices", []) if 0 <= i < rows]
        if group.get("series_id") == transcript_charts.SERIES_ID and picked:
            return picked[0]
    return None


def table(lines: pd.DataFrame, key: str) -> int | None:
    """The lines as a table (from, to, track, text, SenseVoice's tags, dominant emotion) whose
    selected row is returned, as a row of `lines`; None when no row is selected."""
    shown = transcript_charts.line_rows(lines, i18n.language())
    event = st.dataframe(shown, hide_index=True, key=key, on_select="rerun",
                         selection_mode="single-row", column_config=_columns(), placeholder="—")  # fmt: skip
    picked = [i for i in event.selection.rows if 0 <= i < len(lines)]
    return picked[0] if picked else None


def _columns() -> dict:
    return {
        "start_s": st.column_config.NumberColumn(_("from (s)"), format="%.2f"),
        "end_s": st.column_config.NumberColumn(_("to (s)"), format="%.2f"),
        "track": _("track"),
        "text": _("what was said"),
        "tags": st.column_config.ListColumn(_("SenseVoice tags")),
        "emotion": _("dominant emotion"),
    }


def start_of(lines: pd.DataFrame, row: int | None) -> float | None:
    """Where line `row` starts, in seconds (None: no line)."""
    return None if row is None else float(lines.start_s.iloc[row])


def seek(name: str, window: float, band: int | None, row: int | None,
         lines: pd.DataFrame) -> float:  # fmt: skip
    """Where the player of `name` starts, in seconds: the newest pick's time.

    A long recording's window (its start), a band clicked under the curve and a row of the
    table (lines of `lines`) each pick a time. One whose pick changed since the last run wins;
    unchanged ones keep the earlier choice, so a window picked after a line moves the player
    again, and a line picked after a window too.
    """
    picks = {"window": window, "band": start_of(lines, band), "row": start_of(lines, row)}
    memory = st.session_state.setdefault(f"said-seek:{name}", {"seen": {}, "start": 0.0})
    for source, start in picks.items():
        if start != memory["seen"].get(source):
            memory["seen"][source] = start
            if start is not None:
                memory["start"] = start
    return memory["start"]
