"""What was said, as pure builders (#26): a transcript's lines as bands on the curve's time
axis, their SenseVoice tags as short labels, and the table that lists them. No Streamlit.

`lines` is a transcript as `core.store.transcripts.segments_of` reads it: one row per line with
track, start_s, end_s, text, emotion (SenseVoice's tag), events (a list) and top_label
(emotion2vec's top emotion over the line's span), in time order. A band's colour is that top
emotion's; its text is the line's, drawn as plain text by ECharts.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from core.model.labels import COLORS, EMOJI
from dashboard.i18n.catalog import N_, ntr, tr
from dashboard.i18n.catalog import emotion as emotion_name
from dashboard.text import plain

SERIES_ID = "said"  # the bands' series: a click on one selects its line (data index = row)
ROW_PX = 44  # one track's row: its bands, each line's text above or below its band
BAND_PX = 10  # a band's thickness
LABEL_CHARS = 40  # a band's text is cut here (the table holds the whole line)
NO_EMOTION = "#b0b0b0"  # a line without emotion2vec scores

# SenseVoice's emotion tags, as stored (lower case), shown as SenseVoice writes them.
TAG_NAMES = {"happy": N_("HAPPY"), "sad": N_("SAD"), "angry": N_("ANGRY"),
             "neutral": N_("NEUTRAL"), "fearful": N_("FEARFUL"), "disgusted": N_("DISGUSTED"),
             "surprised": N_("SURPRISED")}  # fmt: skip
# SenseVoice's audio events other than speech, as stored (core.model.transcript.parse_tags).
EVENT_NAMES = {"laughter": N_("Laughter"), "cry": N_("Crying"), "applause": N_("Applause"),
               "bgm": N_("Music"), "sneeze": N_("Sneeze"), "breath": N_("Breath"),
               "cough": N_("Cough"), "event_unk": N_("Other sound")}  # fmt: skip


def event_name(event: str, lang: str = "en") -> str:
    """An audio event's name in `lang` ("Laughter", "笑声"); an unknown one as stored."""
    return tr(lang, EVENT_NAMES[event]) if event in EVENT_NAMES else plain(event)


def tags(emotion: str | None, events: Iterable[str] | None, lang: str = "en") -> list[str]:
    """A line's SenseVoice tags as short labels: its emotion ("😊 HAPPY"; none when SenseVoice
    could not tell) then its events ("Laughter")."""
    shown = [f"{EMOJI[emotion]} {tr(lang, TAG_NAMES[emotion])}"] if emotion in TAG_NAMES else []
    return shown + [event_name(e, lang) for e in (events if events is not None else ())]


def rows(lines: pd.DataFrame | None) -> list[str]:
    """The tracks whose lines are drawn, each a row under the curve (none: nothing said)."""
    if lines is None or lines.empty:
        return []
    return list(dict.fromkeys(lines.track))


def band_color(top_label: str | None) -> str:
    """The colour of a line's band: its dominant emotion's."""
    return COLORS.get(top_label, NO_EMOTION) if isinstance(top_label, str) else NO_EMOTION


def band_label(line, lang: str = "en") -> str:
    """A band's text: its tags, then the line (cut at LABEL_CHARS)."""
    text = plain(line.text)
    text = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return " · ".join([*tags(line.emotion, line.events, lang), text])


def said_axis(index: int, tracks: list[str], lang: str = "en") -> dict:
    """The rows' axis: the track names of a split call, "said" for a single track."""
    names = [plain(t) for t in tracks] if tracks != ["mix"] else [tr(lang, "said")]
    return {"gridIndex": index, "type": "category", "data": names, "inverse": True,
            "axisTick": {"show": False}, "axisLabel": {"fontSize": 11}}  # fmt: skip


def said_series(lines: pd.DataFrame, axis: int, lang: str = "en") -> dict:
    """Each line as a band from its start to its end on its track's row, coloured by its
    dominant emotion and labelled with its text; clicking one selects it (series SERIES_ID,
    data index = the line's row in `lines`)."""
    row_of = {track: i for i, track in enumerate(rows(lines))}
    # Texts alternate above and below the bands of a row, so that neighbours do not collide
    # (ECharts' hideOverlap misplaces the labels of a lines series and hid them all).
    turn = lines.groupby("track", sort=False).cumcount() % 2
    return {
        "type": "lines", "id": SERIES_ID, "name": tr(lang, "what was said"),
        "coordinateSystem": "cartesian2d", "xAxisIndex": axis, "yAxisIndex": axis,
        "selectedMode": "single", "lineStyle": {"width": BAND_PX, "opacity": 0.8, "cap": "butt"},
        "emphasis": {"lineStyle": {"opacity": 1}},
        "select": {"lineStyle": {"opacity": 1, "width": BAND_PX + 6}},
        "label": {"show": True, "distance": 3, "formatter": "{b}",
                  "fontSize": 11, "color": "#222", "width": 240, "overflow": "truncate"},
        "data": [
            {"name": band_label(line, lang),
             "coords": [[round(line.start_s, 2), row_of[line.track]],
                        [round(line.end_s, 2), row_of[line.track]]],
             "lineStyle": {"color": band_color(line.top_label)},
             "label": {"position": "insideStartBottom" if odd else "insideStartTop"}}
            for line, odd in zip(lines.itertuples(), turn.tolist(), strict=True)
        ],
    }  # fmt: skip


def said_alt(lines: pd.DataFrame | None, lang: str = "en") -> str:
    """The bands in words, for screen readers: how many lines, on which tracks."""
    tracks = rows(lines)
    if not tracks:
        return ""
    n = len(lines)
    return ntr(lang, "; {n} line said ({tracks})", "; {n} lines said ({tracks})", n).format(
        n=n, tracks=", ".join(map(plain, tracks))
    )


def dominant_name(top_label: str | None, lang: str = "en") -> str | None:
    """emotion2vec's top emotion over a line, with its emoji ("😊 happy"); None without scores."""
    if not isinstance(top_label, str):
        return None
    return f"{EMOJI.get(top_label, '')} {emotion_name(top_label, lang)}".strip()


def line_rows(lines: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The lines as a table: from, to, track (a split call's), what was said, SenseVoice's tags
    (a list) and emotion2vec's dominant emotion over the line, in time order."""
    table = pd.DataFrame(
        {
            "start_s": lines.start_s.round(2),
            "end_s": lines.end_s.round(2),
            "track": lines.track.map(plain),
            "text": lines.text.map(plain),
            "tags": [tags(e, v, lang) for e, v in zip(lines.emotion, lines.events, strict=True)],
            "emotion": [dominant_name(e, lang) for e in lines.top_label],
        }
    ).reset_index(drop=True)
    return table if len(rows(lines)) > 1 else table.drop(columns=["track"])
