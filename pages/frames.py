"""Frame curves: per-emotion probability over time for a clip, smoothed, with a dominant band."""

from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.curves import curve_frame, dominant_segments, merge_short_runs, smooth_curve
from core.model.labels import EMOTIONS
from dashboard import curve_charts, i18n, reads, similar, state, transcript_view, widgets
from dashboard.i18n import N_, _, ngettext

CHOICES = 200  # clips offered in the picker at once
# Points drawn per curve: a chart about 1,000 px wide shows no more, and the browser draws
# 9 curves of them (1,500 took Frame curves past 3 s to open at 1M clips).
CURVE_POINTS = 800

model_key, __ = widgets.results_page("📈 " + _("Frame curves"), N_("frame curves"), filters=False)
lang = i18n.language()
search = st.text_input(_("Find clips by file name"), state.get_str("q", "") or "", key="find")
wanted_vs = state.get_str("vs", "") or ""  # the comparison, as clip_id|track
linked = tuple(c for c in (state.get_str("clip", ""), wanted_vs.split("|")[0]) if c)
tracks = reads.curve_tracks(model_key, search, limit=CHOICES)
matches = int(tracks.matches.max()) if len(tracks) else 0
if linked:  # linked clips are offered even when they are not among the first matches
    extra = reads.curve_tracks(model_key, clip_ids=linked)
    # ...but a new search replaces the opened clip: it stays only while it matches, or the page
    # kept showing it after a search for others (#30). The comparison stays.
    kept = extra.source_name.str.lower().str.contains(search.strip().lower(), regex=False)
    tracks = pd.concat([extra[kept | (extra.clip_id == wanted_vs.split("|")[0])], tracks])
    tracks = tracks.drop_duplicates(["clip_id", "track"])
if tracks.empty and not search:
    st.info(_("No frame curves stored yet: analyse recordings with granularity **frame** "
              "(or `{command}`).").format(command="python -m core ingest ... --frames"))  # fmt: skip
    st.stop()
st.caption(ngettext("{n} track with frame curves matches", "{n} tracks with frame curves match", matches).format(
    n=i18n.number(matches)) + (
    _("; the first {n} are listed, search to narrow them").format(n=CHOICES) if matches > CHOICES else ""))  # fmt: skip
if tracks.empty:
    st.warning(_("No clip with a frame curve matches this search."))
    st.stop()

tracks["key"] = tracks.clip_id + "|" + tracks.track
names = dict(
    zip(
        tracks.key,
        tracks.source_name + " · " + tracks.track + " (" + tracks.corpus + ")",
        strict=True,
    )
)
keys = list(tracks.key)
wanted = f"{state.get_str('clip', '')}|{state.get_str('track', 'mix')}"
controls = st.columns([3, 2, 2])
first = controls[0].selectbox(
    _("Clip"),
    keys,
    index=keys.index(wanted) if wanted in keys else 0,
    format_func=names.get,
    key=state.key("clip"),
)
window_s = controls[1].slider(
    _("Smoothing window (s)"),
    0.02,
    5.0,
    state.get_float("smooth", 0.5, low=0.02, high=5.0),
    0.02,
    key=state.key("smooth"),
)
styles = ["stacked area", "lines"]
style_names = {"stacked area": _("stacked area"), "lines": _("lines")}
style = controls[2].radio(_("Style"), styles, horizontal=True, format_func=style_names.get,
                          index=styles.index(state.get_str("style", styles[0], styles)), key=state.key("style"))  # fmt: skip
stacked = style == "stacked area"
emotions = st.multiselect(_("Emotions"), EMOTIONS, default=state.get_list("emo", EMOTIONS) or list(EMOTIONS),
                          format_func=i18n.fixed(lambda e: i18n.emotion(e, emoji=True)), placeholder=_("Choose options"), key=state.key("emo"))  # fmt: skip
others = ["—", *keys]
compare = st.selectbox(_("Compare with"), others, format_func=i18n.fixed(lambda k: names.get(k, _("no comparison"))),
                       index=others.index(wanted_vs) if wanted_vs in others else 0, key=state.key("vs"))  # fmt: skip
clip_id, track = first.split("|")
state.put(
    q=search.strip() or None,
    clip=clip_id,
    track=track,
    smooth=window_s,
    emo=emotions if len(emotions) < len(EMOTIONS) else None,
    style=None if stacked else style,
    vs=None if compare == "—" else compare,
)

siblings = tracks[tracks.clip_id == clip_id]
aligned = len(siblings) > 1 and st.toggle(
    _("All {n} tracks of this recording, aligned in time").format(n=len(siblings)),
    value=state.get_str("aligned", "1", ["0", "1"]) == "1",
    key=state.key("aligned"),
)
state.put(aligned=None if aligned or len(siblings) < 2 else "0")
if aligned:
    window = max(1, round(window_s / 0.02))
    curves = {t: curve_frame(smooth_curve(reads.frame_logits(clip_id, model_key, t), window), max_points=CURVE_POINTS)
              for t in siblings.track}  # fmt: skip
    widgets.echart(
        curve_charts.aligned_tracks(
            curves, emotions or EMOTIONS, names[first].split(" · ")[0], lang
        ),
        key="aligned",
    )

shown = [first] if compare == "—" else [first, compare]
for column, key in zip(st.columns(len(shown)), shown, strict=True):
    clip_id, track = key.split("|")
    logits = reads.frame_logits(clip_id, model_key, track)
    info = tracks.set_index("key").loc[key]
    curve = curve_frame(
        smooth_curve(logits, max(1, round(window_s / 0.02))), max_points=CURVE_POINTS
    )
    segments = dominant_segments(curve)
    lines = reads.transcript(clip_id)  # every track's lines: a split call's interleaved (#26)
    with column:
        band = transcript_view.curve(
            curve_charts.curve_chart(
                curve, emotions or EMOTIONS, stacked, segments, names[key], lang, said=lines
            ),
            f"curve-{key}",
            lines,
        )
        st.caption(
            _("{frames} frames of 20 ms · {seconds} s · shown at {points} points").format(
                frames=len(logits), seconds=f"{info.duration_s:.1f}", points=len(curve))
        )  # fmt: skip
        path = info.source_path
        windows = reads.segments(clip_id, model_key, track, float(info.duration_s))
        start_s = 0.0
        if not windows.empty:  # a long recording: jump to any of its scored windows
            labels = {r.segment: f"{int(r.start_s // 60)}:{r.start_s % 60:04.1f} – {int(r.end_s // 60)}:{r.end_s % 60:04.1f}"
                      f"  {i18n.emotion(r.top_label, emoji=True)} {r.confidence:.0%}" for r in windows.itertuples()}  # fmt: skip
            pick = st.selectbox(
                _("Jump to segment"), list(labels), format_func=labels.get, key=f"jump-{key}"
            )
            start_s = float(windows.set_index("segment").loc[pick, "start_s"])
        player = st.container()
        row = None
        if not lines.empty:
            st.caption(
                _("What was said: pick a line, or its band under the curve, to play from it.")
            )
            row = transcript_view.table(lines, f"said-{key}")
        start_s = transcript_view.seek(key, window=start_s, band=band, row=row, lines=lines)
        if path and Path(path).exists():
            player.audio(path, start_time=int(start_s))
        st.dataframe(
            merge_short_runs(segments, min_s=1.0).round(2).assign(
                emotion=lambda t: t.emotion.map(i18n.emotion)), hide_index=True, key=f"seg-{key}",
            column_config={"start_s": _("from (s)"), "end_s": _("to (s)"),
                           "emotion": _("dominant emotion")},
        placeholder="—")  # fmt: skip
if compare != "—":
    similar.compare_panel(model_key, tuple(first.split("|")), tuple(compare.split("|")),
                          {"A": names[first], "B": names[compare]}, emotions or EMOTIONS,
                          max(1, round(window_s / 0.02)), CURVE_POINTS)  # fmt: skip
