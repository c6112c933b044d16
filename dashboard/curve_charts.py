"""Frame curves as Apache ECharts options: pure builders, DataFrame in, EChart out.

Values go to the browser as an Arrow `dataset`, in percent. Why ECharts: `dashboard/echart.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from core.model.labels import COLORS
from dashboard import transcript_charts
from dashboard.echart import PERCENT_TOOLTIP, EChart, percent_axis, title
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.i18n.catalog import tr
from dashboard.text import plain

TRACK_HEIGHT_PX = 160  # one track's curves in the aligned view
_LEFT_PX, _RIGHT_PX = 56, 16
_SLIDER = {"type": "slider", "filterMode": "none", "height": 18, "bottom": 6}
_TOOLTIP = {"trigger": "axis", "valueFormatter": PERCENT_TOOLTIP}


def curve_chart(curve: pd.DataFrame, emotions: Sequence[str], stacked: bool,
                segments: pd.DataFrame, heading: str = "", lang: str = "en",
                said: pd.DataFrame | None = None) -> EChart:  # fmt: skip
    """Per-emotion probability over time (curve: time_s and one column per emotion, 0–1),
    with the dominant emotion as a band underneath (segments: start_s, end_s, emotion) and,
    given a transcript (`said`, dashboard.transcript_charts), its lines under that, a row per track.

    All share one time axis, zoomed together by the slider or the mouse wheel.
    """
    tracks = transcript_charts.rows(said)
    end_s = max(_end_s(curve), float(segments.end_s.max()) if len(segments) else 0.0,
                float(said.end_s.max()) if tracks else 0.0)  # fmt: skip
    grids = [_grid(top_px=64, height_px=220), _grid(top_px=292, height_px=16)]
    x_axes = [_time_axis(0, end_s, labels=False, named=False, lang=lang),
              _time_axis(1, end_s, labels=not tracks, named=not tracks, lang=lang)]  # fmt: skip
    y_axes = [
        percent_axis(0),
        {"gridIndex": 1, "type": "category", "data": [tr(lang, "dominant")],
         "axisTick": {"show": False}},
    ]  # fmt: skip
    series = [
        *_emotion_series(emotions, stacked, 0, dataset=0, lang=lang),
        *_dominant_band(segments, axis=1, lang=lang),
    ]
    height_px = 400
    if tracks:  # what was said, under the band (#26)
        grids.append(_grid(top_px=324, height_px=transcript_charts.ROW_PX * len(tracks)))
        x_axes.append(_time_axis(2, end_s, labels=True, named=True, lang=lang))
        y_axes.append(transcript_charts.said_axis(2, tracks, lang))
        series.append(transcript_charts.said_series(said, axis=2, lang=lang))
        height_px = 324 + transcript_charts.ROW_PX * len(tracks) + 84
    option = {
        "animation": False,
        "title": title(heading),
        "legend": {"data": [emotion_name(e, lang) for e in emotions], "top": 24, "type": "scroll"},
        "tooltip": _TOOLTIP,
        "axisPointer": {"link": [{"xAxisIndex": "all"}]},
        "dataset": {"source": _percent(curve, emotions)},
        "grid": grids,
        "xAxis": x_axes,
        "yAxis": y_axes,
        "dataZoom": _zoom(list(range(len(grids)))),
        "series": series,
    }
    alt = tr(lang, "{heading}: {emotions} over {seconds} s; {dominant}").format(
        heading=plain(heading),
        emotions=", ".join(emotion_name(e, lang) for e in emotions),
        seconds=f"{end_s:.1f}",
        dominant=_dominant_shares(segments, lang),
    )
    return EChart(option, height_px=height_px, alt=alt + transcript_charts.said_alt(said, lang))


def aligned_tracks(
    curves: Mapping[str, pd.DataFrame],
    emotions: Sequence[str],
    heading: str = "",
    lang: str = "en",
) -> EChart:
    """Each track of one recording (e.g. agent, customer) as stacked areas in its own row,
    on one time axis: zooming one row zooms them all, and the pointer shows the same instant."""
    end_s = max(_end_s(curve) for curve in curves.values())
    rows = range(len(curves))
    tops_px = [88 + row * (TRACK_HEIGHT_PX + 56) for row in rows]
    option = {
        "animation": False,
        "title": [title(heading), *map(_track_title, curves, tops_px)],
        "legend": {"data": [emotion_name(e, lang) for e in emotions], "top": 24, "type": "scroll"},
        "tooltip": _TOOLTIP,
        "axisPointer": {"link": [{"xAxisIndex": "all"}]},
        "dataset": [{"source": _percent(curve, emotions)} for curve in curves.values()],
        "grid": [_grid(top_px=top, height_px=TRACK_HEIGHT_PX) for top in tops_px],
        "xAxis": [_time_axis(row, end_s, labels=True, named=row == rows[-1], lang=lang)
                  for row in rows],
        "yAxis": [percent_axis(row) for row in rows],
        "dataZoom": _zoom(list(rows)),
        "series": [s for row in rows
                   for s in _emotion_series(emotions, True, row, dataset=row, lang=lang)],
    }  # fmt: skip
    alt = tr(lang, "{heading}: tracks {tracks} over {seconds} s").format(
        heading=plain(heading), tracks=", ".join(map(plain, curves)), seconds=f"{end_s:.1f}"
    )
    return EChart(option, height_px=tops_px[-1] + TRACK_HEIGHT_PX + 72, alt=alt)


def _dominant_shares(segments: pd.DataFrame, lang: str = "en") -> str:
    """'dominant: sad 60%, angry 40%': each emotion's share of the time it is on top."""
    if segments.empty:
        return tr(lang, "no frames")
    seconds = (segments.end_s - segments.start_s).groupby(segments.emotion).sum()
    shares = (seconds / seconds.sum()).sort_values(ascending=False)
    return tr(lang, "dominant: {shares}").format(shares=", ".join(
        f"{emotion_name(emotion, lang)} {share:.0%}" for emotion, share in shares.items()))  # fmt: skip


def _percent(curve: pd.DataFrame, emotions: Sequence[str]) -> pd.DataFrame:
    return pd.concat([curve.time_s, curve[list(emotions)] * 100.0], axis=1)


def _end_s(curve: pd.DataFrame) -> float:
    return float(curve.time_s.max()) if len(curve) else 0.0


def _grid(top_px: int, height_px: int) -> dict:
    return {"top": top_px, "height": height_px, "left": _LEFT_PX, "right": _RIGHT_PX}


def _track_title(track: str, grid_top_px: int) -> dict:
    return {
        **title(track, fontSize=12, fontWeight="normal"),
        "top": grid_top_px - 24,
        "left": _LEFT_PX,
    }


def _time_axis(index: int, end_s: float, labels: bool, named: bool, lang: str = "en") -> dict:
    return {
        "gridIndex": index, "type": "value", "min": 0, "max": round(end_s, 2),
        "axisLabel": {"show": labels}, "nameLocation": "middle", "nameGap": 24,
        "axisPointer": {"label": {"formatter": "{value} s"}},  # also the tooltip's heading
        **({"name": tr(lang, "time (s)")} if named else {}),
    }  # fmt: skip


def _zoom(axes: list[int]) -> list[dict]:
    return [
        {**_SLIDER, "xAxisIndex": axes},
        {"type": "inside", "xAxisIndex": axes, "filterMode": "none"},
    ]


def _emotion_series(emotions: Sequence[str], stacked: bool, axis: int, dataset: int,
                    lang: str = "en") -> list[dict]:  # fmt: skip
    return [
        {
            "type": "line", "name": emotion_name(emotion, lang), "datasetIndex": dataset,
            "xAxisIndex": axis, "yAxisIndex": axis, "encode": {"x": "time_s", "y": emotion},
            "showSymbol": False, "itemStyle": {"color": COLORS[emotion]}, "lineStyle": {"width": 1.5},
            **({"stack": f"track {axis}", "areaStyle": {"opacity": 0.85}} if stacked else {}),
        }
        for emotion in emotions
    ]  # fmt: skip


def _dominant_band(segments: pd.DataFrame, axis: int, lang: str = "en") -> list[dict]:
    """One empty series per dominant emotion whose runs are marked areas: a band of colour.

    Runs are at most one per drawn point (the curve is thinned first), so a few hundred areas.
    """
    return [
        {
            "type": "line", "name": tr(lang, "dominant: {shares}").format(
                shares=emotion_name(emotion, lang)), "data": [],
            "xAxisIndex": axis, "yAxisIndex": axis,
            "markArea": {
                "silent": True, "label": {"show": False}, "itemStyle": {"color": COLORS[emotion]},
                "data": [
                    [{"name": tr(lang, "dominant: {shares}").format(shares=emotion_name(emotion, lang)),
                      "xAxis": start}, {"xAxis": end}]
                    for start, end in zip(runs.start_s.tolist(), runs.end_s.tolist(), strict=True)
                ],
            },
        }
        for emotion, runs in segments.groupby("emotion", sort=False)
    ]  # fmt: skip
