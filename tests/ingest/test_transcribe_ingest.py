"""`ingest --transcribe` end to end with the tiny emotion2vec and SenseVoice (random weights):
segments per track, the cache, search with --said, the exports and subtitles."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.store.curves import read_frame_logits
from core.store.models import list_models
from tests.conftest import RAVDESS, with_pauses
from tests.core_cli import run_cli

RATE = 16_000


@pytest.fixture(scope="module")
def calls(tmp_path_factory):
    """Two mono clips and one stereo call (agent left, customer right)."""
    root = tmp_path_factory.mktemp("calls")
    (root / "alice").mkdir()
    sf.write(root / "alice" / "2024-05-01_0.wav", with_pauses([(0.5, 3.0)], 4.0, seed=1), RATE)
    sf.write(root / "alice" / "2024-05-02_1.wav",
             with_pauses([(0.3, 1.5), (4.5, 6.0)], 7.0, seed=2), RATE)  # fmt: skip
    (root / "bob").mkdir()
    stereo = np.stack([with_pauses([(0.5, 2.0), (6.0, 7.5)], 9.0, seed=3),
                       with_pauses([(3.0, 5.0)], 9.0, seed=4)], axis=1)  # fmt: skip
    sf.write(root / "bob" / "2024-05-03_2.wav", stereo, RATE)
    return root


def cli(*args) -> tuple[int, str, str]:
    done = run_cli(*args)
    return done.returncode, done.stdout, done.stderr


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("db") / "said.duckdb"


def test_scored_corpus_then_transcribe_transcribes_only(db, calls, tiny_model_dir, sensevoice_dir):
    common = ("--corpus", "calls", "--model", tiny_model_dir, "--pattern",
              "{agent}/{recorded_at}_*.wav", "--channels", "split", "--roles", "agent,customer",
              "--db", db, "--json")  # fmt: skip
    code, out, err = cli("ingest", calls, *common)
    assert code == 0, err
    assert last_json(out)["scored"] == 3 and "transcripts" not in last_json(out)
    code, out, err = cli("ingest", calls, *common, "--transcribe", "--asr-model", sensevoice_dir)
    assert code == 0, err
    summary = last_json(out)
    assert summary["scored"] == 0 and summary["cached"] == 3  # nothing rescored
    assert summary["transcripts"]["tracks_transcribed"] == 4  # 2 mono + agent + customer
    assert summary["transcripts"]["segments"] >= 5
    assert "untrained test model" in err
    code, out, _ = cli("ingest", calls, *common, "--transcribe", "--asr-model", sensevoice_dir)
    again = last_json(out)["transcripts"]
    assert (again["tracks_transcribed"], again["tracks_cached"]) == (0, 4)


def stored(db) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT c.source_name, c.duration_s, t.* FROM transcripts t JOIN clips c USING (clip_id)"
            " ORDER BY source_name, track, start_s"
        ).df()


def test_every_track_has_segments_within_its_duration(db):
    rows = stored(db)
    tracks = set(zip(rows.source_name, rows.track, strict=True))
    assert tracks == {("alice/2024-05-01_0.wav", "mix"), ("alice/2024-05-02_1.wav", "mix"),
                      ("bob/2024-05-03_2.wav", "agent"), ("bob/2024-05-03_2.wav", "customer")}  # fmt: skip
    assert (rows.start_s < rows.end_s).all() and (rows.end_s <= rows.duration_s + 1e-6).all()
    assert rows.text.str.len().gt(0).all()
    # the agent's and the customer's lines stay apart, at their own times
    agent = rows[rows.track == "agent"]
    customer = rows[rows.track == "customer"]
    assert len(agent) == 2 and len(customer) == 1
    assert 2.5 <= customer.start_s.iloc[0] <= 3.2 and customer.end_s.iloc[0] <= 5.5
    # emotion2vec's scores over each span: a distribution, and its top label
    for scores, top in zip(rows.scores, rows.top_label, strict=True):
        assert np.sum(scores) == pytest.approx(1.0, abs=1e-4) and isinstance(top, str)


def test_span_scores_are_the_mean_of_stored_frame_scores(
    tmp_path, calls, tiny_model_dir, sensevoice_dir
):
    db2 = tmp_path / "frames.duckdb"
    code, _, err = cli("ingest", calls / "alice", "--corpus", "c", "--model", tiny_model_dir,
                       "--frames", "--transcribe", "--asr-model", sensevoice_dir, "--db", db2)  # fmt: skip
    assert code == 0, err
    from core.model.engine import softmax
    from core.store.database import Store

    store = Store(db2)
    rows = stored(db2)
    key = list_models(store).model_key.iloc[0]
    row = rows.iloc[0]
    logits = read_frame_logits(store, row.clip_id, key, row.track)
    a, b = int(row.start_s / 0.02), int(np.ceil(row.end_s / 0.02))
    assert np.asarray(row.scores) == pytest.approx(softmax(logits[a:b]).mean(axis=0), abs=1e-6)


def test_said_finds_the_clip_of_a_stored_word(db, tmp_path):
    rows = stored(db)
    target = rows[rows.track == "customer"].iloc[0]
    word = max(target.text.split(), key=len)
    out = tmp_path / "said.csv"
    code, _, err = cli("export", "--what", "clips", "--format", "csv", "--said",
                       word.upper(), "--out", out, "--db", db)  # fmt: skip
    assert code == 0, err
    found = pd.read_csv(out)
    assert ("bob/2024-05-03_2.wav", "customer") in set(
        zip(found.source_name, found.track, strict=True)
    )
    for text in found.transcript:  # only tracks that said it, with their full text
        assert word.lower() in text.lower()
    code, _, _ = cli("export", "--what", "clips", "--format", "csv", "--said",
                     "zzqx-never-said", "--out", out, "--db", db)  # fmt: skip
    assert code == 0 and len(pd.read_csv(out)) == 0


def test_transcripts_export_and_subtitles(db, tmp_path):
    rows = stored(db)
    for fmt in ("csv", "parquet"):
        out = tmp_path / f"t.{fmt}"
        code, _, err = cli("export", "--what", "transcripts", "--format", fmt, "--out", out,
                           "--db", db)  # fmt: skip
        assert code == 0, err
        table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        assert len(table) == len(rows)
        assert {"clip_id", "track", "start_s", "end_s", "text", "language", "emotion", "events",
                "words"} <= set(table.columns)  # fmt: skip
    call = rows[rows.source_name == "bob/2024-05-03_2.wav"]
    for fmt in ("srt", "vtt"):
        out = tmp_path / f"call.{fmt}"
        code, _, err = cli("export", "--what", "transcripts", "--format", fmt, "--clip",
                           call.clip_id.iloc[0], "--out", out, "--db", db)  # fmt: skip
        assert code == 0, err
        text = out.read_text()
        assert text.count(" --> ") == len(call)
        assert ("WEBVTT" in text) == (fmt == "vtt")
        assert "customer: " in text and "agent: " in text
        first = call.sort_values("start_s").iloc[0]
        sep = "," if fmt == "srt" else "."
        s = first.start_s
        assert f"00:00:{int(s):02d}{sep}{round((s % 1) * 1000):03d} -->" in text


@pytest.mark.skipif(not RAVDESS.exists(), reason="RAVDESS is not on this machine")
def test_ravdess_actor_transcribed(tmp_path, tiny_model_dir, sensevoice_dir):
    """12 RAVDESS clips (both intensities, several emotions) with --transcribe: a segment for
    every track. bench/transcribe.py runs the whole corpus."""
    db3 = tmp_path / "ravdess.duckdb"
    files = sorted((RAVDESS / "Actor_01").glob("*.flac"))[::5]
    code, _, err = cli("ingest", *files, "--corpus", "ravdess",
                         "--model", tiny_model_dir, "--transcribe", "--asr-model", sensevoice_dir,
                         "--db", db3, "--json")  # fmt: skip
    assert code == 0, err
    rows = stored(db3)
    with duckdb.connect(str(db3), read_only=True) as con:
        clips = con.execute("SELECT count(*) FROM clips").fetchone()[0]
    assert clips == 12 and rows.clip_id.nunique() == clips
    assert (rows.start_s < rows.end_s).all() and (rows.end_s <= rows.duration_s + 1e-6).all()
    word = rows.text.iloc[0].split()[0]
    out_csv = tmp_path / "r.csv"
    cli("export", "--what", "clips", "--format", "csv", "--said", word, "--out", out_csv,
        "--db", db3)  # fmt: skip
    assert rows.clip_id.iloc[0] in set(pd.read_csv(out_csv).clip_id)


def test_clips_page_said_filter_shows_the_line_and_keeps_it_in_the_url(db, monkeypatch):
    from tests.apptest import open_page

    rows = stored(db)
    target = rows[rows.track == "customer"].iloc[0]
    word = max(target.text.split(), key=len)
    at = open_page("clips", db, monkeypatch, said=word.upper())
    assert next(t for t in at.text_input if t.key == "said").value == word.upper()
    shown = at.dataframe[0].value
    assert "said_line" in shown.columns and len(shown) >= 1
    hit = shown[(shown.source_name == "bob/2024-05-03_2.wav") & (shown.track == "customer")]
    assert len(hit) == 1 and word.lower() in hit.said_line.iloc[0].lower()
    assert hit.said_at_s.iloc[0] == pytest.approx(target.start_s)
    assert all(word.lower() in line.lower() for line in shown.said_line)
    assert at.query_params["said"] in (word.upper(), [word.upper()])


def test_score_transcribe_writes_segments_in_result_json(
    calls, tmp_path, tiny_model_dir, sensevoice_dir
):
    clip = calls / "alice" / "2024-05-02_1.wav"
    code, _, err = cli("score", clip, "--model", tiny_model_dir, "--transcribe",
                         "--asr-model", sensevoice_dir, "--out", tmp_path)  # fmt: skip
    assert code == 0, err
    folder = next(tmp_path.glob("outputs_*"))
    doc = json.loads((folder / "result.json").read_text())
    lines = doc["segments"]
    assert len(lines) == 2  # speech at 0.3-1.5 s and 4.5-6.0 s
    for line in lines:
        assert 0 <= line["start_s"] < line["end_s"] <= doc["duration_s"]
        assert line["text"] and sum(line["scores"].values()) == pytest.approx(1.0, abs=1e-4)
