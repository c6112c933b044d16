"""Every page through Streamlit's AppTest, on an empty and on a seeded database."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.model.labels import EMOJI
from core.store.aggregates import agent_trends
from core.store.clips import select_clips
from core.store.curves import read_frame_logits, tracks_with_curves
from core.store.models import list_models
from dashboard.text import literal
from tests.apptest import APP, echarts, open_page

PAGES = ["upload", "clips", "frames", "clusters", "trends", "exports"]


@pytest.mark.parametrize("page", PAGES[1:])
def test_empty_database_shows_what_to_do_first(page, tmp_path, monkeypatch):
    at = open_page(page, tmp_path / "empty.duckdb", monkeypatch)
    assert any("Upload & analyse" in i.value for i in at.info)
    assert not at.error


def test_upload_page_offers_every_model_and_labels_the_test_model(tmp_path, monkeypatch,
                                                                   hub_online):  # fmt: skip
    at = open_page("upload", tmp_path / "empty.duckdb", monkeypatch)
    model = next(s for s in at.selectbox if s.label == "Model")
    assert model.options == [
        "emotion2vec_plus_large (downloaded on first use)",
        "emotion2vec_plus_base (downloaded on first use)",
        "emotion2vec_plus_seed (downloaded on first use)",
        "local model directory",
        "⚠️ untrained test model (random weights)",
    ]
    assert model.value == "emotion2vec_plus_large"
    assert not [c for c in at.caption if "not available on this server" in c.value]
    assert at.button[0].disabled  # nothing uploaded yet


def model_choice(at):
    return next(s for s in at.selectbox if s.label == "Model")


def test_offline_the_upload_page_offers_only_the_models_this_server_has(tmp_path, monkeypatch):
    """No copy and no network: the hub models are not offered, one line says why, and no model
    is chosen for the visitor (the only one left runs random weights)."""
    from tests.conftest import hub_as

    hub_as(monkeypatch, tmp_path / "modelscope", online=False)
    monkeypatch.setenv("EMOSCOPE_MODELS_DIR", str(tmp_path / "models"))
    at = open_page("upload", tmp_path / "empty.duckdb", monkeypatch)
    model = model_choice(at)
    assert model.options == ["local model directory", "⚠️ untrained test model (random weights)"]
    assert model.value is None
    (line,) = [c.value for c in at.caption if "not available on this server" in c.value]
    assert line.startswith("emotion2vec_plus_large, emotion2vec_plus_base, emotion2vec_plus_seed "
                           "are not available on this server: no copy here, and ModelScope "
                           "cannot be reached")  # fmt: skip
    assert not at.error and not at.exception


def test_offline_a_downloaded_hub_model_and_local_directories_are_offered(tmp_path, monkeypatch):
    from tests.conftest import hub_as

    cache = tmp_path / "modelscope"
    hub_as(monkeypatch, cache, online=False)
    (cache / "models" / "iic" / "emotion2vec_plus_base").mkdir(parents=True)
    (cache / "models" / "iic" / "emotion2vec_plus_base" / "model.pt").write_bytes(b"weights")
    (tmp_path / "models" / "ours").mkdir(parents=True)
    (tmp_path / "models" / "ours" / "config.yaml").write_text("model: Emotion2vec\n")
    monkeypatch.setenv("EMOSCOPE_MODELS_DIR", str(tmp_path / "models"))
    at = open_page("upload", tmp_path / "empty.duckdb", monkeypatch)
    model = model_choice(at)
    assert model.options == ["emotion2vec_plus_base", "local model directory",
                             "⚠️ untrained test model (random weights)"]  # fmt: skip
    assert model.value == "emotion2vec_plus_base"
    (line,) = [c.value for c in at.caption if "not available on this server" in c.value]
    assert line.startswith("emotion2vec_plus_large, emotion2vec_plus_seed are not available")
    model.select("local model directory").run()
    assert next(s for s in at.selectbox if s.label == "Model directory").options == ["ours"]


@pytest.mark.parametrize(
    ("setting", "chosen", "directory"),
    [("emotion2vec_plus_seed", "emotion2vec_plus_seed", None),
     ("/srv/models/ours", "local model directory", "ours"),
     ("no-such-model", "emotion2vec_plus_large", None)],
)  # fmt: skip
def test_the_upload_page_starts_on_the_deployments_model(tmp_path, monkeypatch, hub_online,
                                                         setting, chosen, directory):  # fmt: skip
    (tmp_path / "models" / "ours").mkdir(parents=True)
    (tmp_path / "models" / "ours" / "config.yaml").write_text("model: Emotion2vec\n")
    monkeypatch.setenv("EMOSCOPE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("EMOSCOPE_MODEL", setting)
    at = open_page("upload", tmp_path / "empty.duckdb", monkeypatch)
    assert model_choice(at).value == chosen
    local = [s for s in at.selectbox if s.label == "Model directory"]
    assert [s.value for s in local] == ([directory] if directory else [])


def test_clips_page_lists_the_corpus_and_opens_a_clip(seeded_db, monkeypatch):
    from core.store.database import Store

    key = list_models(Store(seeded_db)).model_key[0]
    clip = select_clips(Store(seeded_db), key).iloc[0]
    at = open_page("clips", seeded_db, monkeypatch, clip=clip.clip_id, track="mix")
    assert any(c.value.startswith("Clips (tracks) matching the filters: 12 · recordings: 12")
               for c in at.caption)  # fmt: skip
    assert len(at.dataframe[0].value) == 12
    assert literal(clip.source_name) in [s.value for s in at.main.subheader]  # Markdown-safe
    assert any(clip.top_label.capitalize() in m.value for m in at.markdown)
    assert any("untrained test model" in w.value for w in at.sidebar.warning)


def test_a_clip_opened_from_its_similar_list_stays_open_though_a_table_row_is_ticked(
    seeded_db, monkeypatch
):
    """The open clip and its similar list are drawn above the table; a row ticked in the table
    opens its clip once, and a clip opened from the similar list afterwards stays open."""
    from core.store.database import Store

    clips = select_clips(Store(seeded_db), list_models(Store(seeded_db)).model_key[0])
    at = open_page("clips", seeded_db, monkeypatch, sim="1")
    names = dict(zip(clips.source_name, clips.clip_id, strict=True))
    ticked = names[at.dataframe[0].value.source_name.iloc[2]]
    at.session_state["clip_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert at.query_params["clip"] == ticked
    similar = at.dataframe[0].value  # the open clip's list comes first, the table after it
    assert len(similar) == 11 and similar.similarity.is_monotonic_decreasing
    assert len(at.dataframe[1].value) == 12
    chosen = names[similar.source_name.iloc[0]]
    at.session_state[f"similar-{ticked}-mix"] = {"selection": {"rows": [0], "columns": [],
                                                               "cells": []}}  # fmt: skip
    at.run()
    assert at.query_params["clip"] == chosen != ticked
    at.run()  # the ticked row does not take it back
    assert at.query_params["clip"] == chosen
    next(s for s in at.selectbox if s.label == "Sort by").set_value("confidence").run()
    assert at.query_params["clip"] == chosen  # nor does it on the table sorted anew
    at.session_state["clip_table"] = {"selection": {"rows": [], "columns": [], "cells": []}}
    at.run()
    at.session_state["clip_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()  # ticked again: a new pick, on the sorted table
    assert at.query_params["clip"] == names[at.dataframe[1].value.source_name.iloc[0]]
    assert literal(similar.source_name.iloc[0]) in [s.value for s in at.main.subheader]


def test_clips_filter_by_agent(seeded_db, monkeypatch):
    at = open_page("clips", seeded_db, monkeypatch, agent="bob")
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table.agent) == {"bob"}


def test_frames_page_draws_curves_and_compares(seeded_db, monkeypatch):
    from core.store.database import Store

    store = Store(seeded_db)
    second = tracks_with_curves(store, list_models(store).model_key[0]).iloc[1]
    at = open_page("frames", seeded_db, monkeypatch)
    assert not at.get("plotly_chart")  # ECharts: a fresh browser draws it a second sooner (#9)
    (first,) = echarts(at)
    compare = next(s for s in at.selectbox if s.label == "Compare with")
    compare.set_value(f"{second.clip_id}|{second.track}").run()  # a second clip beside the first
    drawn = echarts(at)
    assert [c["key"] for c in drawn] == [
        first["key"],
        f"curve-{second.clip_id}|{second.track}",
        "compare-curves",
    ]  # fmt: skip  (#27: both curves on one axis)
    assert any("frames of 20 ms" in c.value for c in at.caption)


def test_frame_curve_chart_carries_the_stored_curve_in_percent(seeded_db, monkeypatch):
    from core.analysis.curves import curve_frame, smooth_curve
    from core.model.labels import EMOTIONS
    from core.store.database import Store

    store = Store(seeded_db)
    model_key = list_models(store).model_key[0]
    track = tracks_with_curves(store, model_key).iloc[0]
    at = open_page("frames", seeded_db, monkeypatch, smooth="0.02")
    (chart,) = echarts(at)
    logits = read_frame_logits(store, track.clip_id, model_key, track.track)
    expected = curve_frame(smooth_curve(logits, 1), max_points=800)  # the page's CURVE_POINTS
    (data,) = chart["data"]
    assert list(data.columns) == ["time_s", *EMOTIONS]
    np.testing.assert_allclose(data.time_s, expected.time_s)
    np.testing.assert_allclose(data[list(EMOTIONS)], expected[list(EMOTIONS)] * 100, rtol=1e-6)
    np.testing.assert_allclose(data[list(EMOTIONS)].sum(axis=1), 100, rtol=1e-4)
    option = chart["option"]
    assert [s["name"] for s in option["series"][:9]] == list(EMOTIONS)
    assert option["title"]["text"].startswith(track.source_name)
    band = [s for s in option["series"] if s["name"].startswith("dominant: ")]
    runs = [(a["xAxis"], b["xAxis"]) for s in band for a, b in s["markArea"]["data"]]
    assert min(r[0] for r in runs) == 0 and max(r[1] for r in runs) == pytest.approx(
        expected.time_s.iloc[-1] + 0.01
    )


def cluster_profile(at: AppTest) -> pd.DataFrame:
    """The Clusters page's profile table (st.table of Markdown-escaped text), tracks as numbers."""
    table = at.table[-1].value
    return table.assign(tracks=table.tracks.str.replace(",", "").astype(int))


def test_clusters_page_computes_in_the_background_and_stores_a_projection(seeded_db, monkeypatch):
    from core.jobs import JOBS

    at = open_page("clusters", seeded_db, monkeypatch)
    assert any("no stored projection" in i.value for i in at.info)  # nothing computed on open
    assert not at.get("plotly_chart")
    before = set(JOBS._jobs)
    at.button[0].click().run()
    assert not at.exception
    running = [job for key, job in JOBS._jobs.items() if key not in before]
    assert running, "the button starts a background job"
    for job in running:
        assert job.wait(300).error is None
    at.run()
    profile = cluster_profile(at)
    assert profile.tracks.sum() == 12
    assert any("suggested by silhouette" in c.value for c in at.caption)
    again = open_page("clusters", seeded_db, monkeypatch)  # now read back from the database
    assert not again.button and cluster_profile(again).tracks.sum() == 12
    assert set(cluster_profile(again).columns) == {"tracks", "commonest emotion", "top agents"}
    assert any("12 points" in c.value for c in again.caption)
    from core.store.database import Store

    store = Store(seeded_db)
    clips = select_clips(store, list_models(store).model_key[0])
    expected = {"cluster": set(cluster_profile(again).index),
                "top_label": set(clips.top_label), "agent": set(clips.agent),
                "corpus": set(clips.corpus)}  # fmt: skip
    picker = next(s for s in again.selectbox if s.label == "Colour by")
    assert picker.options == list(expected)
    for colour in picker.options:
        picker.set_value(colour).run()
        assert not again.exception
        (chart, mix) = echarts(again)
        legend = [piece["label"] for piece in chart["option"]["visualMap"]["pieces"]]
        assert set(legend) == expected[colour]
        (points,) = chart["data"]  # one row per point, its colour group an index into the legend
        assert len(points) == 12 and set(points.group) == set(range(len(legend)))
        assert mix["key"] == "mix" and not again.get("plotly_chart")
        picker = next(s for s in again.selectbox if s.label == "Colour by")


def test_trends_page_grid_and_drill_down(seeded_db, monkeypatch):
    at = open_page("trends", seeded_db, monkeypatch, period="week")
    assert not at.get("plotly_chart")  # the first view draws no plotly figure (#9)
    grid = at.dataframe[0].value  # agents x weeks: the share of the focus emotion
    trends = at.dataframe[-1].value
    assert set(trends.agent) == {"alice", "bob", "carol"} == set(grid.index)
    assert len(grid.columns) == trends.period.nunique()
    assert trends.low_n.all()  # one clip per agent-week: every cell is low-n, and shown
    assert len(at.dataframe) == 2  # nothing is listed until an agent or a cell is chosen
    assert any("choose an agent" in c.value for c in at.caption)
    next(s for s in at.selectbox if s.label == "Agent").set_value("bob").run()
    latest = trends[trends.agent == "bob"].period.max()
    assert next(s for s in at.selectbox if s.label == "Period starting").value == (
        latest.strftime("%Y-%m-%d")  # an agent's latest period comes first
    )
    drill = at.dataframe[1].value
    assert len(drill) == trends[(trends.agent == "bob") & (trends.period == latest)].n.iloc[0]
    assert set(drill.source_name.str.split("/").str[0]) == {"bob"}


def test_exports_page_offers_every_table_in_both_formats(seeded_db, monkeypatch):
    at = open_page("exports", seeded_db, monkeypatch)
    labels = [b.label for b in at.main.button]  # each writes its file on click (#30)
    for what, rows in (("clips", 12), ("embeddings", 12)):
        assert f"{what}.csv ({rows} rows)" in labels and f"{what}.parquet ({rows} rows)" in labels
    assert any(label.startswith("frames.csv (") for label in labels)


def test_rendering_clips_does_not_import_the_model(seeded_db):
    code = (
        "import os, sys; from streamlit.testing.v1 import AppTest;"
        f"os.environ['EMOSCOPE_DB'] = {str(seeded_db)!r};"
        f"at = AppTest.from_file({APP!r}, default_timeout=60); at.run();"
        "at.switch_page('../pages/clips.py'); at.run(); assert not at.exception;"
        "print(sorted(m for m in ('funasr', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr[-2000:]


@pytest.fixture(scope="module")
def long_db(tmp_path_factory, engine):
    import soundfile as sf

    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.store.database import Store
    from tests.conftest import speechlike

    folder = tmp_path_factory.mktemp("long")
    sf.write(folder / "long-call.wav", speechlike(130.0, seed=7), 16_000)
    ingest(
        Store(folder / "long.duckdb"),
        engine,
        collect([folder / "long-call.wav"]),
        "calls",
        frames=True,
    )
    return folder / "long.duckdb"


def test_long_recording_shows_its_segments_and_jumps_to_them(long_db, monkeypatch):
    from core.store.database import Store

    clip = select_clips(Store(long_db), list_models(Store(long_db)).model_key[0]).iloc[0]
    at = open_page("clips", long_db, monkeypatch, clip=clip.clip_id, track="mix")
    assert any("scored in 5 windows of 30 s" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) == 5  # the clip's windows: the clip comes first (#30)
    bars, curve = echarts(at)  # the nine scores, then the clip's whole curve (0.5 s smoothing)
    assert bars["key"] == "clip_scores" and len(bars["data"][0]) == 9
    assert curve["key"] == "clip_curve" and curve["data"][0].time_s.iloc[-1] > 129
    at = open_page("frames", long_db, monkeypatch)
    jump = next(s for s in at.selectbox if s.label == "Jump to segment")
    assert len(jump.options) == 5 and jump.options[1].startswith("0:27.5 – 0:52.5")
    assert any("6499 frames of 20 ms" in c.value for c in at.caption)


def test_a_split_call_shows_both_tracks_aligned(tmp_path, engine, monkeypatch):
    import numpy as np
    import soundfile as sf

    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.store.database import Store
    from tests.conftest import speechlike

    sf.write(
        tmp_path / "call.wav", np.stack([speechlike(3.0, 1), speechlike(3.0, 2)], axis=1), 16_000
    )
    store = Store(tmp_path / "calls.duckdb")
    ingest(store, engine, collect([tmp_path / "call.wav"]), "calls", channel_mode="split",
           channel_roles=("agent", "customer"), frames=True)  # fmt: skip
    at = open_page("frames", tmp_path / "calls.duckdb", monkeypatch)
    assert at.toggle[0].value is True
    aligned, curve = echarts(at)  # the aligned pair, then the selected track
    assert [t["text"] for t in aligned["option"]["title"][1:]] == ["agent", "customer"]
    clip_id = select_clips(store, list_models(store).model_key[0]).clip_id[0]
    stored = [
        len(read_frame_logits(store, clip_id, list_models(store).model_key[0], t))
        for t in ("agent", "customer")
    ]
    assert [len(d) for d in aligned["data"]] == stored and stored[0] > 140  # 3 s of 20 ms frames
    assert curve["key"] == f"curve-{next(s for s in at.selectbox if s.label == 'Clip').value}"


# -- pages at scale: paging, sorting, search, periods, URL state (a synthetic database) -------


def _param(at, name: str) -> str:
    value = at.query_params[name]
    return value[0] if isinstance(value, list) else value


def _caption(at, start: str) -> str:
    return next(c.value for c in at.caption if c.value.startswith(start))


def test_clips_page_pages_in_the_database(synth_db, monkeypatch):
    from core.store.database import Store

    store = Store(synth_db)
    every = select_clips(store, list_models(store).model_key[0])
    at = open_page("clips", synth_db, monkeypatch)
    caption = _caption(at, f"Clips (tracks) matching the filters: {len(every):,} ")
    assert caption.endswith("page 1 of 2 (rows shown: 500)")
    first = at.dataframe[0].value
    assert len(first) == 500 and list(first.source_name) == sorted(every.source_name)[:500]
    at.number_input[0].set_value(2).run()
    assert len(at.dataframe[0].value) == len(every) - 500
    assert _param(at, "page") == "2"


@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize(
    "column",
    ["source_name", "recorded_at", "duration_s", "confidence", "agent", "top_label",
     "score_angry", "score_disgusted", "score_fearful", "score_happy", "score_neutral",
     "score_other", "score_sad", "score_surprised", "score_unknown"],
)  # fmt: skip
def test_clips_page_sorts_by_every_column(synth_db, monkeypatch, column, order):
    from core.store.database import Store

    store = Store(synth_db)
    every = select_clips(store, list_models(store).model_key[0])
    at = open_page("clips", synth_db, monkeypatch)
    next(s for s in at.selectbox if s.label == "Sort by").set_value(column)
    next(r for r in at.radio if r.label == "Order").set_value(order).run()
    shown = at.dataframe[0].value[column]
    expected = every[column].sort_values(ascending=order == "ascending", kind="stable")
    assert list(shown.head(20)) == list(expected.head(20))


def test_clips_page_searches_file_names(synth_db, monkeypatch):
    at = open_page("clips", synth_db, monkeypatch)
    at.text_input[0].input("CALL-000012").run()
    table = at.dataframe[0].value
    assert len(table) >= 1 and table.source_name.str.contains("call-000012").all()
    assert _param(at, "q") == "CALL-000012"


def test_a_shared_url_keeps_dates_and_durations(synth_db, monkeypatch):
    at = open_page("clips", synth_db, monkeypatch)
    at.sidebar.date_input[0].set_value(
        (pd.Timestamp("2025-03-03").date(), pd.Timestamp("2025-03-09").date())
    ).run()
    at.sidebar.slider[1].set_value((30.0, 200.0)).run()
    sender = _caption(at, "")
    params = {k: _param(at, k) for k in ("from", "to", "dmin", "dmax")}
    assert params == {"from": "2025-03-03", "to": "2025-03-09", "dmin": "30.0", "dmax": "200.0"}
    recipient = open_page("clips", synth_db, monkeypatch, **params)
    assert _caption(recipient, "") == sender
    from core.store.database import Store

    store = Store(synth_db)
    every = select_clips(store, list_models(store).model_key[0])
    inside = every[every.recorded_at.between("2025-03-03", "2025-03-09 23:59:59.999")
                   & every.duration_s.between(30, 200)]  # fmt: skip
    assert sender.startswith(f"Clips (tracks) matching the filters: {len(inside):,} ")


def test_overview_links_open_the_clips_of_one_agent_and_days(synth_db, monkeypatch):
    at = open_page("clips", synth_db, monkeypatch, agent="agent-007", **{"from": "2025-01-06",
                   "to": "2025-06-30"})  # fmt: skip
    table = at.dataframe[0].value
    assert len(table) >= 1 and set(table.agent) == {"agent-007"}
    assert table.recorded_at.max() < pd.Timestamp("2025-07-01")


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_trends_page_every_period(synth_db, monkeypatch, period):
    from core.store.database import Store

    store = Store(synth_db)
    expected = agent_trends(store, list_models(store).model_key[0], period=period)
    at = open_page(
        "trends", synth_db, monkeypatch, agent="agent-001", period=period, da="agent-001"
    )
    assert at.radio[0].value == period
    table = at.dataframe[-1].value
    assert list(table.n) == list(expected[expected.agent == "agent-001"].n)
    grid = at.dataframe[0].value
    assert list(grid.index) == ["agent-001"] and len(grid.columns) == len(table)
    focus = next(s for s in at.selectbox if s.label == "Emotion").value
    assert grid.iloc[0].tolist() == pytest.approx(table[focus].tolist())
    drill = at.dataframe[1].value
    start = pd.Timestamp(next(s for s in at.selectbox if s.label == "Period starting").value)
    assert start == table.period.max()  # the agent's latest period
    assert len(drill) == table.n.iloc[-1] and (drill.recorded_at >= start).all()


@pytest.mark.parametrize("emotion", ["angry", "disgusted", "fearful", "happy", "neutral", "other",
                                     "sad", "surprised", "unknown"])  # fmt: skip
def test_trends_page_every_focus_emotion(synth_db, monkeypatch, emotion):
    at = open_page("trends", synth_db, monkeypatch, period="month", focus=emotion)
    assert next(s for s in at.selectbox if s.label == "Emotion").value == emotion
    assert any(f"share of {EMOJI[emotion]} {emotion} clips" in m.value for m in at.markdown)
    grid, trends = at.dataframe[0].value, at.dataframe[-1].value
    busiest = sorted(trends.agent.unique())[0]
    shares = trends[trends.agent == busiest].set_index("period")[emotion]
    assert grid.loc[busiest].dropna().tolist() == pytest.approx(shares.tolist())


def test_trends_page_opens_on_the_emotion_that_leads_the_selection(synth_db, monkeypatch):
    from core.store.database import Store

    store = Store(synth_db)
    clips = select_clips(store, list_models(store).model_key[0])
    dated = clips[clips.agent.notna() & clips.recorded_at.notna()]
    leading = dated.top_label.value_counts().sort_index().idxmax()  # ties: the first by name
    at = open_page("trends", synth_db, monkeypatch, period="week")
    assert next(s for s in at.selectbox if s.label == "Emotion").value == leading
    assert _param(at, "focus") == leading


@pytest.mark.parametrize("k", [0, *range(2, 13)])
def test_clusters_page_offers_every_k_without_computing(synth_db, monkeypatch, k):
    at = open_page("clusters", synth_db, monkeypatch, k=str(k))
    picker = next(s for s in at.selectbox if s.label == "Clusters (k)")
    assert picker.value == k
    assert any("no stored projection" in i.value for i in at.info)
    assert at.button[0].label == "Compute projection"


def test_frames_page_with_the_same_audio_in_two_corpora(tmp_path, engine, monkeypatch):
    import soundfile as sf

    from core.ingest.pipeline import ingest
    from core.ingest.sources import collect
    from core.store.database import Store
    from tests.conftest import speechlike

    sf.write(tmp_path / "call.wav", speechlike(2.0, 3), 16_000)
    store = Store(tmp_path / "two.duckdb")
    for corpus in ("march", "april"):
        ingest(store, engine, collect([tmp_path / "call.wav"]), corpus, frames=True)
    at = open_page("frames", tmp_path / "two.duckdb", monkeypatch)
    assert any("frames of 20 ms · 2.0 s" in c.value for c in at.caption)
    picker = next(s for s in at.selectbox if s.label == "Clip")
    assert len(picker.options) == 1 and "(april, march)" in picker.options[0]


def test_frames_page_search_narrows_the_picker(synth_db, monkeypatch):
    at = open_page("frames", synth_db, monkeypatch)
    picker = next(s for s in at.selectbox if s.label == "Clip")
    name = picker.options[0].split(" · ")[0]
    at.text_input[0].input(name).run()
    picker = next(s for s in at.selectbox if s.label == "Clip")
    assert all(o.startswith(name) for o in picker.options)
    assert _caption(at, "").startswith(
        f"{len(picker.options)} {'track' if len(picker.options) == 1 else 'tracks'} with frame curves"
    )


def test_a_search_replaces_the_clip_the_url_opened(synth_db, monkeypatch):
    from core.store.curves import tracks_with_curves
    from core.store.database import Store
    from core.store.models import list_models

    store = Store(synth_db)
    curves = tracks_with_curves(store, list_models(store).model_key[0])
    opened, other = curves.iloc[-1], curves.iloc[0]
    assert opened.source_name != other.source_name
    at = open_page("frames", synth_db, monkeypatch, clip=opened.clip_id, track=opened.track)
    assert next(s for s in at.selectbox if s.label == "Clip").value == (
        f"{opened.clip_id}|{opened.track}"
    )
    at.text_input[0].input(other.source_name).run()
    picker = next(s for s in at.selectbox if s.label == "Clip")
    # The opened clip is no longer offered (it kept showing before), and the first match shows.
    assert all(o.startswith(other.source_name) for o in picker.options)
    assert picker.value.split("|")[0] == other.clip_id


HOSTILE_NUMBERS = ["inf", "-inf", "nan", "1e308", "-5", "99999999999999999999", "abc"]
# page -> the numeric URL parameters it reads, with the widget range each must land in
NUMERIC_PARAMS = {
    "clips": {"cmin": (0.0, 1.0), "cmax": (0.0, 1.0), "dmin": (0.0, None), "dmax": (0.0, None),
              "page": (1, None)},
    "clusters": {"k": (0, 12), "nn": (2, 50), "md": (0.0, 0.99)},
    "frames": {"smooth": (0.02, 5.0)},
}  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
@pytest.mark.parametrize(
    ("page", "name"), [(p, n) for p, names in NUMERIC_PARAMS.items() for n in names]
)
def test_hostile_numbers_in_the_url_render_in_range(synth_db, monkeypatch, page, name, value):
    at = open_page(page, synth_db, monkeypatch, **{name: value})  # asserts no exception
    low, high = NUMERIC_PARAMS[page][name]
    numbers = [v for w in [*at.slider, *at.number_input] for v in np.atleast_1d(w.value)]
    numbers += [w.value for w in at.selectbox if isinstance(w.value, int)]
    assert numbers, "the page shows its numeric widgets"
    assert all(np.isfinite(float(v)) for v in numbers)
    if name in ("nn", "md", "smooth", "page"):
        widget = {"nn": lambda: at.slider[0], "md": lambda: at.slider[1],
                  "smooth": lambda: at.slider[0], "page": lambda: at.number_input[0]}[name]()  # fmt: skip
        assert low <= widget.value and (high is None or widget.value <= high)


def clip_list_page():
    import pandas as pd
    import streamlit as st

    from dashboard import widgets

    st.session_state["pages"] = {"clips": st.Page(lambda: None, title="Clips", url_path="clips")}
    clips = pd.DataFrame({"source_name": ["a.wav", "[login](https://evil.example) **b**.wav"],
                          "clip_id": ["x", "y"], "track": ["mix", "agent"]})  # fmt: skip
    widgets.clip_list(clips, ["source_name"], "listed", "m@1")


def test_a_row_of_a_clip_list_opens_its_clip():
    """Cluster selections and trend cells list clips with this widget: a row opens its clip."""
    at = AppTest.from_function(clip_list_page).run()
    assert [c.value for c in at.caption] == ["Select a row to open its clip."]
    at.session_state["listed"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    link = at.get("page_link")[0].proto
    # The label is Markdown to Streamlit: the name is escaped so that it shows as typed.
    assert link.label == "Open " + literal("[login](https://evil.example) **b**.wav") + " in Clips"
    assert "\\[login\\]" in link.label and "\\*\\*b\\*\\*" in link.label
    assert link.query_string == "clip=y&track=agent&model=m%401"


# -- Clusters: a whole cluster's clips, paged in the database (#30) -----------------------------


def cluster_rows(db, key: str) -> pd.DataFrame:
    """The store's rows of the stored projection's tracks, each with its cluster."""
    from core.store.database import Store
    from core.store.projections import read_projection

    store = Store(db)
    clips = select_clips(store, list_models(store).model_key[0])
    return read_projection(store, key).merge(clips, on=["clip_id", "track"])


def shown_keys(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(zip(frame.source_name, frame.corpus, frame.track, strict=True))


def listed_cluster(at: AppTest) -> list[tuple[str, str, str]]:
    """Every row the cluster list shows, page after page (its Page box), in order."""
    pages = int(_caption(at, "Cluster ").split(" of ")[-1].split(" ")[0].replace(",", ""))
    rows = []
    for page in range(1, pages + 1):
        next(n for n in at.number_input if n.label == "Page").set_value(page).run()
        rows += shown_keys(at.dataframe[0].value)
    return rows


def test_every_cluster_lists_all_its_tracks_not_only_the_drawn_points(clustered_db, monkeypatch):
    from dashboard import cluster_lists

    db, key = clustered_db
    monkeypatch.setattr(cluster_lists, "MAX_POINTS", 100)  # the map draws 100 of ~900 points
    every = cluster_rows(db, key)
    sizes = every.groupby("cluster").size()
    at = open_page("clusters", db, monkeypatch)
    assert any(c.value.startswith(f"100 of {len(every):,} points shown") for c in at.caption)
    (drawn, _mix) = echarts(at)
    assert len(drawn["data"][0]) == 100
    picker = next(s for s in at.selectbox if s.label == "List a cluster's clips")
    assert picker.value == -1 and not at.dataframe  # nothing listed until a cluster is picked
    assert picker.options == ["none", *(f"cluster {c} · {n} tracks" for c, n in sizes.items())]
    for cluster, size in sizes.items():
        picker.set_value(cluster).run()
        assert _param(at, "cluster") == str(cluster)
        expected = every[every.cluster == cluster].sort_values(["source_name", "clip_id", "track"])
        assert _caption(at, "Cluster ").startswith(
            f"Cluster {cluster}: {size} tracks of the stored"
        )
        listed = listed_cluster(at)
        assert listed == shown_keys(expected) and len(listed) == size
        assert size > (drawn["data"][0].cluster == str(cluster)).sum()  # not only the drawn ones
        picker = next(s for s in at.selectbox if s.label == "List a cluster's clips")
    picker.set_value(-1).run()
    assert not at.dataframe and "cluster" not in at.query_params and "cpage" not in at.query_params


def test_a_cluster_list_pages_like_the_clips_page(clustered_db, monkeypatch):
    db, key = clustered_db
    every = cluster_rows(db, key).sort_values(["source_name", "clip_id", "track"])
    first = every[every.cluster == 0]
    at = open_page("clusters", db, monkeypatch, cluster="0")
    assert _caption(at, "Cluster 0").endswith("page 1 of 2 (rows shown: 500)")
    assert shown_keys(at.dataframe[0].value) == shown_keys(first.head(500))
    next(n for n in at.number_input if n.label == "Page").set_value(2).run()
    assert _param(at, "cpage") == "2"
    assert shown_keys(at.dataframe[0].value) == shown_keys(first.iloc[500:])
    # Another cluster starts on its first page.
    next(s for s in at.selectbox if s.label == "List a cluster's clips").set_value(1).run()
    assert _caption(at, "Cluster 1").endswith("page 1 of 1 (rows shown: 300)")
    assert "cpage" not in at.query_params
    # A link to a page past the cluster's end shows its last page.
    at = open_page("clusters", db, monkeypatch, cluster="0", cpage="9")
    assert _caption(at, "Cluster 0").endswith("page 2 of 2 (rows shown: 20)")
    assert next(n for n in at.number_input if n.label == "Page").value == 2
    assert _param(at, "cpage") == "2"


def test_a_cluster_opens_in_clips_and_a_row_opens_its_clip(clustered_db, monkeypatch):
    from urllib.parse import parse_qs

    db, key = clustered_db
    every = cluster_rows(db, key).sort_values(["source_name", "clip_id", "track"])
    members = every[every.cluster == 1]
    at = open_page("clusters", db, monkeypatch, cluster="1", agent=list(every.agent.unique()))
    link = next(p.proto for p in at.get("page_link") if p.proto.label.startswith("Open the"))
    assert link.label == "Open the cluster's 300 clips in Clips"
    params = parse_qs(link.query_string)
    assert params["proj"] == [key] and params["cluster"] == ["1"]
    assert sorted(params["agent"]) == sorted(every.agent.unique())  # the filters come along
    clips = open_page("clips", db, monkeypatch, **params)
    assert _caption(clips, "Clips (tracks)").startswith("Clips (tracks) matching the filters: 300 ")
    assert shown_keys(clips.dataframe[0].value) == shown_keys(members)
    assert any("Only the clips of cluster 1" in i.value for i in clips.info)
    next(b for b in clips.button if b.label == "Show every clip").click().run()
    assert "proj" not in clips.query_params and "cluster" not in clips.query_params
    assert _caption(clips, "Clips (tracks)").startswith(
        f"Clips (tracks) matching the filters: {len(every):,} "
    )
    # A row of the cluster's list opens its clip.
    grid = f"cluster-{key}-1-1"  # the list's key: projection, cluster, page
    at.session_state[grid] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    at.run()
    opened = next(p.proto for p in at.get("page_link") if p.proto.label.endswith(" in Clips")
                  and not p.proto.label.startswith("Open the"))  # fmt: skip
    assert opened.label == f"Open {literal(members.source_name.iloc[3])} in Clips"
    assert parse_qs(opened.query_string)["clip"] == [members.clip_id.iloc[3]]


def test_a_stale_cluster_link_lists_every_clip(clustered_db, monkeypatch):
    db, _key = clustered_db
    clips = open_page("clips", db, monkeypatch, proj="0" * 20, cluster="1")
    assert any("not stored any more" in w.value for w in clips.warning)
    assert "proj" not in clips.query_params
    assert len(clips.dataframe[0].value) == 500  # the first page of every clip


@pytest.mark.parametrize("k", [10, 20, 50, 100])
def test_more_like_this_cluster_ranks_tracks_outside_it(clustered_db, monkeypatch, k):
    db, key = clustered_db
    every = cluster_rows(db, key)
    inside = set(shown_keys(every[every.cluster == 2]))
    at = open_page("clusters", db, monkeypatch, cluster="2", clmore="1", clsimk=str(k))
    assert next(t for t in at.toggle if t.label == "More like this cluster").value is True
    found = at.dataframe[1].value  # under the cluster's own list
    assert len(found) == k and found.similarity.is_monotonic_decreasing
    assert not set(shown_keys(found)) & inside
    assert any(c.value.startswith(f"Nearest to the centroid of cluster 2; its {len(inside)} tracks")
               for c in at.caption)  # fmt: skip
    next(t for t in at.toggle if t.label == "More like this cluster").set_value(False).run()
    assert "clmore" not in at.query_params and len(at.dataframe) == 1


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
@pytest.mark.parametrize("name", ["cluster", "cpage"])
def test_hostile_cluster_numbers_in_the_url_list_nothing_or_a_real_page(
    clustered_db, monkeypatch, name, value
):
    db, _key = clustered_db
    at = open_page("clusters", db, monkeypatch, **{"cluster": "0", name: value})  # no exception
    picker = next(s for s in at.selectbox if s.label == "List a cluster's clips")
    if name == "cluster":
        assert picker.value == -1 and not at.dataframe  # none listed
    else:  # the first page, or the last for a page past the end (cluster 0 has two)
        (page,) = [n.value for n in at.number_input if n.label == "Page"]
        assert page == (2 if value in ("1e308", "99999999999999999999") else 1)
        assert _caption(at, "Cluster 0").startswith(f"Cluster 0: 520 tracks of the stored "
                                                    f"projection · page {page} of 2")  # fmt: skip
