"""Pure builders for the Overview page: charts (DataFrame in, EChart out) and link labels.

No Streamlit, no database. The Overview is the landing page, so its charts are ECharts
(`dashboard/echart.py` says why).
"""

from __future__ import annotations

import pandas as pd

from core.model.labels import COLORS, EMOJI, EMOTIONS
from dashboard.echart import GRID, EChart, percent_axis, title
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.i18n.catalog import ntr, number, percent, tr
from dashboard.score_charts import emotion_bars

_PLURAL = {"day": "days", "week": "weeks", "month": "months"}  # msgids: dashboard.i18n


def audio_text(seconds: float, lang: str = "en") -> str:
    """An amount of audio as a PM reads it: hours from one hour up, else minutes."""
    if seconds >= 3600:
        return tr(lang, "{hours} h").format(hours=number(seconds / 3600, lang, 1))
    return tr(lang, "{minutes} min").format(minutes=number(seconds / 60, lang, 1))


def mix_bars(mix: pd.DataFrame, heading: str = "", lang: str = "en") -> EChart:
    """Share of tracks by top emotion over the whole selection (mix: emotion, n), highest on top,
    each bar labelled with its share and count."""
    totals = mix.groupby("emotion").n.sum().reindex(list(EMOTIONS), fill_value=0)
    shares = totals / max(int(totals.sum()), 1)
    texts = {e: f"{percent(shares[e], lang)} ({number(totals[e], lang)})" for e in EMOTIONS}
    top_percent = float(shares.max()) * 100 if len(shares) else 100.0
    return emotion_bars(shares, texts, heading, lang,
                        max_percent=min(100.0, round(top_percent * 1.35 + 5)), column="share")  # fmt: skip


def mix_over_time(mix: pd.DataFrame, period: str, heading: str = "", lang: str = "en") -> EChart:
    """Stacked shares of each top emotion per period; the tooltip gives each share with its
    count and the period's tracks."""
    dated = mix.dropna(subset=["period_start"])
    table = dated.pivot_table(index="period_start", columns="emotion", values="n",
                              aggfunc="sum", fill_value=0).reindex(columns=list(EMOTIONS), fill_value=0)  # fmt: skip
    totals = table.sum(axis=1)
    shares = table.div(totals.where(totals > 0, 1), axis=0)
    source = pd.DataFrame({"period": table.index.strftime("%Y-%m-%d"), "tracks": totals.to_numpy()})
    for emotion in EMOTIONS:
        source[emotion] = shares[emotion].to_numpy() * 100
        source[f"{emotion}_text"] = [
            f"{percent(s, lang)} ({number(n, lang)})"
            for s, n in zip(shares[emotion], table[emotion], strict=True)
        ]
    lines = "".join(f"<br/>{EMOJI[e]} {emotion_name(e, lang)}: {{@{e}_text}}" for e in EMOTIONS)
    heading_line = tr(lang, "{period} of {start} · tracks: {tracks}").format(
        period=tr(lang, period), start="{b}", tracks="{@tracks}"
    )
    option = {
        "animation": False,
        "title": title(heading),
        "legend": {"type": "scroll", "top": 24},
        "dataset": {"source": source},
        "grid": {**GRID, "top": 64, "bottom": 28},
        "tooltip": {"trigger": "axis", "formatter": heading_line + lines},
        "xAxis": _period_axis(period, lang),
        "yAxis": percent_axis(),
        "series": [
            {"type": "bar", "stack": "mix", "name": f"{EMOJI[e]} {emotion_name(e, lang)}",
             "itemStyle": {"color": COLORS[e]},
             "encode": {"x": "period", "y": e}}
            for e in EMOTIONS
        ],
    }  # fmt: skip
    return EChart(option, height_px=330, alt=f"{heading}: {_periods(source.period, period, lang)}")


def negative_line(shares: pd.DataFrame, period: str, heading: str = "", lang: str = "en") -> EChart:
    """Negative share per period (shares: period_start, n, negative, share)."""
    source = pd.DataFrame({
        "period": shares.period_start.dt.strftime("%Y-%m-%d"), "share": shares.share * 100,
        "text": [ntr(lang, "{share} ({k} of {n} track)", "{share} ({k} of {n} tracks)", n).format(
                     share=percent(s, lang), k=number(k, lang), n=number(n, lang))
                 for s, k, n in zip(shares.share, shares.negative, shares.n, strict=True)],
    })  # fmt: skip
    option = {
        "animation": False,
        "title": title(heading),
        "dataset": {"source": source},
        "grid": {**GRID, "bottom": 28},
        "tooltip": {"trigger": "axis", "formatter": tr(lang, "{period} of {start}: {text}").format(
            period=tr(lang, period), start="{b}", text="{@text}")},
        "xAxis": _period_axis(period, lang),
        "yAxis": percent_axis(max_percent=None),  # a few percent must not hug the floor
        "series": [{"type": "line", "name": tr(lang, "negative share"), "itemStyle": {"color": COLORS["angry"]},
                    "encode": {"x": "period", "y": "share"}}],
    }  # fmt: skip
    alt = f"{heading}: {_periods(source.period, period, lang)}" + (
        tr(lang, "; latest {text}").format(text=source.text.iloc[-1]) if len(source) else ""
    )
    return EChart(option, height_px=260, alt=alt)


def _period_axis(period: str, lang: str = "en") -> dict:
    """The periods as categories (their start dates), named under the axis."""
    return {
        "type": "category",
        "name": tr(lang, "{period} starting").format(period=tr(lang, period)),
        "nameLocation": "middle",
        "nameGap": 28,
    }


def _periods(starts: pd.Series, period: str, lang: str = "en") -> str:
    """'12 weeks from 2024-03-04 to 2024-05-20', in words for a chart's description."""
    if starts.empty:
        return tr(lang, "no dated tracks")
    if len(starts) == 1:
        return tr(lang, "the {period} of {start}").format(
            period=tr(lang, period), start=starts.iloc[0]
        )
    return tr(lang, "{n} {periods} from {first} to {last}").format(
        n=len(starts),
        periods=tr(lang, _PLURAL.get(period, period)),
        first=starts.iloc[0],
        last=starts.iloc[-1],
    )
