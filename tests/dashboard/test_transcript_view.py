"""What was said on the pages (#26), on a database scored with frame curves and transcribed by
the tiny SenseVoice: the lines under the curve (times, texts, colours, a split call's two tracks
interleaved), their SenseVoice tags, a picked line moving the player, and laughter and crying
as a sidebar filter (planted through core.store.transcripts) kept in the URL and the exports."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.analysis.curves import curve_frame, dominant_segments, smooth_curve
from core.model.labels import COLORS, EMOTIONS
from core.store import transcripts
from core.store.clips import select_clips
from core.store.curves import read_frame_logits
from core.store.database import Store
from core.store.models import list_models
from core.store.transcripts import SegmentRow
from dashboard import curve_charts, transcript_charts
from tests.apptest import echarts, open_page

CALL = "bob/2024-05-03_2.wav"  # the split call: agent, then customer, then agent
MONO = "alice/2024-05-02_1.wav"


def clip_of(db: Path, name: str) -> str:
    store = Store(db)
    clips = select_clips(store, list_models(store).model_key[0])
    return clips[clips.source_name == name].clip_id.iloc[0]


def said_series(option: dict) -> dict:
    return next(s for s in option["series"] if s.get("id") == transcript_charts.SERIES_ID)


def test_the_lines_lie_under_the_curve_on_its_time_axis(transcribed_db):
    """The builder on stored data: one band per line at its stored times, on its track's row,
    in the colour of its stored dominant emotion; the split call's tracks interleaved."""
    store = Store(transcribed_db)
    model_key = list_models(store).model_key[0]
    clip_id = clip_of(transcribed_db, CALL)
    lines = transcripts.segments_of(store, clip_id)
    assert list(lines.track) == ["agent", "customer", "agent"]  # in time order
    curve = curve_frame(smooth_curve(read_frame_logits(store, clip_id, model_key, "agent"), 25))
    chart = curve_charts.curve_chart(curve, EMOTIONS, True, dominant_segments(curve), CALL,
                                     said=lines)  # fmt: skip
    option = chart.option
    bands = said_series(option)
    assert bands["type"] == "lines" and bands["selectedMode"] == "single"
    assert [d["coords"] for d in bands["data"]] == [
        [[round(r.start_s, 2), row], [round(r.end_s, 2), row]]
        for r, row in zip(lines.itertuples(), [0, 1, 0], strict=True)
    ]
    assert [d["lineStyle"]["color"] for d in bands["data"]] == [COLORS[e] for e in lines.top_label]
    for band, line in zip(bands["data"], lines.itertuples(), strict=True):
        tags = transcript_charts.tags(line.emotion, line.events)
        assert band["name"].startswith(" · ".join([*tags, line.text[:30]]))  # tags, then text
    assert option["yAxis"][2]["data"] == ["agent", "customer"]
    # one time axis: the same range in the three grids, zoomed together
    assert {(a["min"], a["max"]) for a in option["xAxis"]} == {(0, round(lines.end_s.max(), 2))}
    assert option["dataZoom"][0]["xAxisIndex"] == [0, 1, 2]
    assert chart.alt.endswith("; 3 lines said (agent, customer)")
    assert chart.height_px == 324 + 2 * transcript_charts.ROW_PX + 84


def test_a_single_track_reads_said_and_no_transcript_changes_nothing(transcribed_db):
    store = Store(transcribed_db)
    lines = transcripts.segments_of(store, clip_of(transcribed_db, MONO))
    curve = pd.DataFrame({"time_s": [0.0, 7.0], **{e: [1 / 9, 1 / 9] for e in EMOTIONS}})
    segments = dominant_segments(curve)
    option = curve_charts.curve_chart(curve, EMOTIONS, True, segments, MONO, "zh", lines).option
    assert option["yAxis"][2]["data"] == ["说话内容"]
    assert [d["coords"][0][1] for d in said_series(option)["data"]] == [0, 0]
    plain = curve_charts.curve_chart(curve, EMOTIONS, True, segments, MONO, said=lines.iloc[:0])
    before = curve_charts.curve_chart(curve, EMOTIONS, True, segments, MONO)  # as before #26
    assert (plain.alt, plain.height_px, plain.option["grid"]) == (
        before.alt,
        400,
        before.option["grid"],
    )
    assert plain.option["series"] == before.option["series"] and len(before.option["grid"]) == 2


def test_sensevoice_tags_as_short_labels():
    happy = ["😊 HAPPY", "Laughter", "Crying"]
    assert transcript_charts.tags("happy", ["laughter", "cry"]) == happy
    assert transcript_charts.tags("angry", ("cough",), "zh") == ["😠 生气", "咳嗽"]
    assert transcript_charts.tags("unknown", []) == [] == transcript_charts.tags(None, None)
    row = pd.Series({"text": "x" * 100, "emotion": "sad", "events": ["laughter"]})
    label = transcript_charts.band_label(row)
    assert label.startswith("😢 SAD · Laughter · xxx") and label.endswith("…")


def frames_of_the_call(db: Path, monkeypatch) -> tuple[AppTest, str, pd.DataFrame]:
    clip_id = clip_of(db, CALL)
    at = open_page("frames", db, monkeypatch, clip=clip_id, track="agent")
    return at, f"{clip_id}|agent", transcripts.segments_of(Store(db), clip_id)


def start_time(at: AppTest) -> int:
    (player,) = at.get("audio")
    return player.proto.start_time


def test_frame_curves_list_the_lines_and_a_picked_one_moves_the_player(transcribed_db,
                                                                       monkeypatch):  # fmt: skip
    at, key, lines = frames_of_the_call(transcribed_db, monkeypatch)
    curve = next(c for c in echarts(at) if c["key"] == f"curve-{key}")
    assert len(said_series(curve["option"])["data"]) == len(lines) == 3
    table = next(d for d in at.dataframe if d.key == f"said-{key}").value
    assert list(table.columns) == ["start_s", "end_s", "track", "text", "tags", "emotion"]
    assert list(table.track) == ["agent", "customer", "agent"]
    assert list(table.text) == list(lines.text)
    assert list(table.start_s) == list(lines.start_s.round(2))
    assert [list(t) for t in table.tags] == [transcript_charts.tags(e, v) for e, v in zip(lines.emotion, lines.events, strict=True)]  # fmt: skip
    assert start_time(at) == 0
    # a click on the customer's band (the chart reports its data index) ...
    at.session_state[f"curve-{key}"] = {"selection": {"selected": [
        {"series_index": 11, "series_id": "said", "series_name": "what was said",
         "data_type": "main", "data_indices": [1]}], "areas": []}}  # fmt: skip
    at.run()
    assert not at.exception and start_time(at) == int(lines.start_s.iloc[1]) > 0
    # ... then a row of the table: the newest pick wins
    at.session_state[f"said-{key}"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert start_time(at) == int(lines.start_s.iloc[2]) > int(lines.start_s.iloc[1])
    at.run()  # an unrelated rerun keeps the player where it is
    assert start_time(at) == int(lines.start_s.iloc[2])


def test_the_clips_page_shows_the_tags_and_a_row_moves_its_player(transcribed_db, monkeypatch):
    clip_id = clip_of(transcribed_db, MONO)
    at = open_page("clips", transcribed_db, monkeypatch, clip=clip_id, track="mix")
    lines = transcripts.segments_of(Store(transcribed_db), clip_id, "mix")
    table = next(d for d in at.dataframe if d.key == "transcript").value
    assert list(table.columns) == ["start_s", "end_s", "text", "tags", "emotion"]  # one track
    assert [list(t) for t in table.tags] == [transcript_charts.tags(e, v) for e, v in zip(lines.emotion, lines.events, strict=True)]  # fmt: skip
    assert list(table.emotion) == [transcript_charts.dominant_name(e) for e in lines.top_label]
    assert start_time(at) == 0
    at.session_state["transcript"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception and start_time(at) == int(lines.start_s.iloc[1]) > 0


# -- laughter and crying as a filter: planted events --------------------------------------------


@pytest.fixture(scope="module")
def events_db(transcribed_db, tmp_path_factory) -> Path:
    """The transcribed database with alice laughing and bob's customer crying (newer lines)."""
    db = tmp_path_factory.mktemp("events") / "events.duckdb"
    shutil.copy(transcribed_db, db)
    store = Store(db)

    def line(text: str, *events: str) -> list[SegmentRow]:
        return [SegmentRow(0.5, 1.5, text, "en", "happy", events, ((text, 0.5, 1.5),))]

    transcripts.write(store, "planted", None, [(clip_of(db, MONO), "mix", line("ha ha", "laughter")),
                                               (clip_of(db, CALL), "customer", line("oh no", "cry"))])  # fmt: skip
    return db


EVENT_ROWS = {("laughter",): {(MONO, "mix")}, ("cry",): {(CALL, "customer")},
              ("laughter", "cry"): {(MONO, "mix"), (CALL, "customer")}}  # fmt: skip


def listed(at: AppTest) -> set[tuple[str, str]]:
    table = at.dataframe[0].value
    return set(zip(table.source_name, table.track, strict=True))


@pytest.mark.parametrize("events", list(EVENT_ROWS))
def test_sidebar_every_event_keeps_its_tracks_and_the_url(events_db, monkeypatch, events):
    at = open_page("clips", events_db, monkeypatch)
    assert len(listed(at)) == 3  # no event chosen: every track
    picker = next(w for w in at.sidebar.multiselect if w.label == "Laughter or crying (transcript)")
    assert picker.options == ["Laughter", "Crying"]
    picker.set_value(list(events)).run()
    assert not at.exception and listed(at) == EVENT_ROWS[events]
    kept = at.query_params["event"]
    assert (kept if isinstance(kept, list) else [kept]) == list(events)


def test_a_shared_url_with_an_event_filters_every_page_and_export(events_db, monkeypatch):
    at = open_page("clips", events_db, monkeypatch, event="cry", lang="zh")
    assert listed(at) == {(CALL, "customer")}
    picker = next(w for w in at.sidebar.multiselect if w.label == "笑声或哭声（转写）")
    assert picker.value == ["cry"] and picker.options == ["笑声", "哭声"]
    exports = open_page("exports", events_db, monkeypatch, event="laughter")
    labels = [b.label for b in exports.button]  # each starts its export job (#30)
    assert "clips.csv (1 rows)" in labels and "clips.parquet (1 rows)" in labels


def test_the_filter_is_offered_once_something_is_transcribed(tmp_path):
    from core.store.filters import filter_options

    assert filter_options(Store(tmp_path / "empty.duckdb"))["transcribed"] is False


def test_the_api_takes_the_event_filter(events_db):
    from starlette.datastructures import QueryParams

    from core.errors import InputError
    from dashboard.api import params

    store = Store(events_db)
    _, query = params.clip_query(store, QueryParams("event=cry&event=laughter&event=cry"))
    assert query.where.events == ("cry", "laughter")
    with pytest.raises(InputError, match="event='giggle'"):
        params.clip_query(store, QueryParams("event=giggle"))


def test_the_lines_read_in_chinese(transcribed_db, monkeypatch):
    clip_id = clip_of(transcribed_db, CALL)
    at = open_page("frames", transcribed_db, monkeypatch, clip=clip_id, track="agent", lang="zh")
    assert "说话内容：选一句话，或曲线下方它的色带，即从该处播放。" in [c.value for c in at.caption]
    curve = next(c for c in echarts(at) if c["key"] == f"curve-{clip_id}|agent")
    assert curve["option"]["series"][-1]["name"] == "说话内容"
    assert curve["option"]["xAxis"][2]["name"] == "时间（秒）"
