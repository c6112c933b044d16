"""Every page through Streamlit's AppTest, on an empty and on a seeded database."""

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
PAGES = ["upload", "clips", "frames", "clusters", "trends", "exports"]


def open_page(page: str, db: Path, monkeypatch, **params) -> AppTest:
    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if page != "overview":  # the default page
        at.switch_page(f"../pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES[1:])
def test_empty_database_shows_what_to_do_first(page, tmp_path, monkeypatch):
    at = open_page(page, tmp_path / "empty.duckdb", monkeypatch)
    assert any("Upload & analyse" in i.value for i in at.info)
    assert not at.error


def test_upload_page_offers_every_model_and_labels_the_test_model(tmp_path, monkeypatch):
    at = open_page("upload", tmp_path / "empty.duckdb", monkeypatch)
    model = next(s for s in at.selectbox if s.label == "Model")
    assert "emotion2vec_plus_large" in model.options
    assert "⚠️ untrained test model (random weights)" in model.options
    assert at.button[0].disabled  # nothing uploaded yet


def test_clips_page_lists_the_corpus_and_opens_a_clip(seeded_db, monkeypatch):
    from core.store import Store

    key = Store(seeded_db).models().model_key[0]
    clip = Store(seeded_db).clips(key).iloc[0]
    at = open_page("clips", seeded_db, monkeypatch, clip=clip.clip_id, track="mix")
    assert "12 clips (tracks) match the filters." in [c.value for c in at.caption]
    assert len(at.dataframe[0].value) == 12
    assert clip.source_name in [s.value for s in at.main.subheader]
    assert any(clip.top_label.capitalize() in m.value for m in at.markdown)
    assert any("untrained test model" in w.value for w in at.sidebar.warning)


def test_clips_filter_by_agent(seeded_db, monkeypatch):
    at = open_page("clips", seeded_db, monkeypatch, agent="bob")
    table = at.dataframe[0].value
    assert len(table) == 4 and set(table.agent) == {"bob"}


def test_frames_page_draws_curves_and_compares(seeded_db, monkeypatch):
    from core.store import Store

    store = Store(seeded_db)
    second = store.tracks_with_curves(store.models().model_key[0]).iloc[1]
    at = open_page("frames", seeded_db, monkeypatch)
    assert len(at.get("plotly_chart")) == 1
    compare = next(s for s in at.selectbox if s.label == "Compare with")
    compare.set_value(f"{second.clip_id}|{second.track}").run()  # a second clip beside the first
    assert len(at.get("plotly_chart")) == 2
    assert any("frames of 20 ms" in c.value for c in at.caption)


def test_clusters_page_computes_and_stores_a_projection(seeded_db, monkeypatch):
    at = open_page("clusters", seeded_db, monkeypatch)
    assert any("Suggested k by silhouette" in c.value for c in at.caption)
    at.button[0].click().run()
    assert not at.exception
    profile = at.dataframe[-1].value
    assert profile.n.sum() == 12
    assert len(profile) == next(s for s in at.slider if s.label == "Clusters (k)").value
    again = open_page("clusters", seeded_db, monkeypatch)  # now read back from the database
    assert not again.button and again.dataframe[-1].value.n.sum() == 12


def test_trends_page_heatmap_and_drill_down(seeded_db, monkeypatch):
    at = open_page("trends", seeded_db, monkeypatch, period="week")
    assert len(at.get("plotly_chart")) >= 2
    drill = at.dataframe[0].value
    assert len(drill) >= 1
    trends = at.dataframe[1].value
    assert set(trends.agent) == {"alice", "bob", "carol"}
    assert trends.low_n.all()  # one clip per agent-week: every cell is low-n, and shown


def test_exports_page_offers_every_table_in_both_formats(seeded_db, monkeypatch):
    at = open_page("exports", seeded_db, monkeypatch)
    labels = [b.label for b in at.get("download_button")]
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

    from core.ingest import ingest
    from core.sources import collect
    from core.store import Store
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
    from core.store import Store

    clip = Store(long_db).clips(Store(long_db).models().model_key[0]).iloc[0]
    at = open_page("clips", long_db, monkeypatch, clip=clip.clip_id, track="mix")
    assert any("scored in 5 windows of 30 s" in c.value for c in at.caption)
    assert len(at.dataframe[-1].value) == 5
    at = open_page("frames", long_db, monkeypatch)
    jump = next(s for s in at.selectbox if s.label == "Jump to segment")
    assert len(jump.options) == 5 and jump.options[1].startswith("0:27.5 – 0:52.5")
    assert any("6499 frames of 20 ms" in c.value for c in at.caption)


def test_a_split_call_shows_both_tracks_aligned(tmp_path, engine, monkeypatch):
    import numpy as np
    import soundfile as sf

    from core.ingest import ingest
    from core.sources import collect
    from core.store import Store
    from tests.conftest import speechlike

    sf.write(
        tmp_path / "call.wav", np.stack([speechlike(3.0, 1), speechlike(3.0, 2)], axis=1), 16_000
    )
    store = Store(tmp_path / "calls.duckdb")
    ingest(store, engine, collect([tmp_path / "call.wav"]), "calls", channel_mode="split",
           channel_roles=("agent", "customer"), frames=True)  # fmt: skip
    at = open_page("frames", tmp_path / "calls.duckdb", monkeypatch)
    assert at.toggle[0].value is True
    assert len(at.get("plotly_chart")) == 2  # the aligned pair, then the selected track
