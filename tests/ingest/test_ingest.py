import io
import re
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.errors import EmoScopeError
from core.ingest.metadata import from_manifest, from_pattern
from core.ingest.pipeline import ingest
from core.ingest.sources import collect, collected, from_zip
from core.model.audio import decode
from core.model.labels import SCORE_COLUMNS
from core.store.clips import select_clips
from core.store.curves import read_frame_logits
from core.store.database import ClipFilter, Store
from core.store.ingest_runs import list_runs, read_run_files
from core.store.integrity import integrity_report
from tests.conftest import make_corpus, speechlike


class CountingEngine:
    """The real engine, counting the clips it is asked to score."""

    def __init__(self, engine):
        self._engine = engine
        self.clips_scored = 0

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def predict(self, waves, **kwargs):
        self.clips_scored += len(waves)
        return self._engine.predict(waves, **kwargs)


def test_corrupt_file_is_reported_and_the_rest_stored(tmp_path, engine):
    corpus = make_corpus(tmp_path / "c", agents=("alice",), per_agent=3)
    (corpus / "alice" / "2024-05-30_bad.wav").write_bytes(b"RIFF\x00\x00junk" * 10)
    (corpus / "alice" / "2024-05-31_empty.wav").write_bytes(b"")
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([corpus]), "c")
    assert (summary.scored, summary.failed) == (3, 2)
    failed = {o.source_name: o.message for o in summary.outcomes if o.status == "failed"}
    assert "damaged or incomplete WAV file" in failed["alice/2024-05-30_bad.wav"]
    assert "the file is empty" in failed["alice/2024-05-31_empty.wav"]
    assert len(select_clips(store, engine.model_key)) == 3
    files = read_run_files(store, summary.run_id)
    assert sorted(files.status) == ["failed", "failed", "scored", "scored", "scored"]
    assert set(integrity_report(store).values()) == {0}


def test_reingest_does_no_model_work(tmp_path, engine, corpus_dir):
    store = Store(tmp_path / "db.duckdb")
    counting = CountingEngine(engine)
    first = ingest(store, counting, collect([corpus_dir]), "c", frames=True)
    assert counting.clips_scored == first.scored == 12
    counting.clips_scored = 0
    second = ingest(store, counting, collect([corpus_dir]), "c", frames=True)
    assert counting.clips_scored == 0
    assert (second.scored, second.cached) == (0, 12)
    assert second.seconds_audio == pytest.approx(first.seconds_audio)
    # Another corpus holding the same audio reuses the predictions too.
    third = ingest(store, counting, collect([corpus_dir]), "other")
    assert counting.clips_scored == 0 and third.cached == 12
    assert len(select_clips(store, engine.model_key)) == 24


def test_frames_requested_later_are_computed_once(tmp_path, engine, corpus_dir):
    store = Store(tmp_path / "db.duckdb")
    counting = CountingEngine(engine)
    ingest(store, counting, collect([corpus_dir / "alice"]), "c")
    ingest(store, counting, collect([corpus_dir / "alice"]), "c", frames=True)
    ingest(store, counting, collect([corpus_dir / "alice"]), "c", frames=True)
    assert counting.clips_scored == 8
    assert (
        read_frame_logits(store, select_clips(store, engine.model_key).clip_id[0], engine.model_key)
        is not None
    )


def test_an_interrupted_run_keeps_finished_batches_and_a_rerun_completes(
    tmp_path, engine, monkeypatch
):
    import core.ingest.pipeline

    monkeypatch.setattr(core.ingest.pipeline, "BATCH_FILES", 4)
    corpus = make_corpus(tmp_path / "c", per_agent=4)  # 12 files: 3 batches of 4
    store = Store(tmp_path / "db.duckdb")

    def stop_after_six(done, total, seconds):
        if done == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(store, engine, collect([corpus]), "c", on_progress=stop_after_six)
    assert len(select_clips(store, engine.model_key)) == 4  # the first batch only, complete
    assert list_runs(store).status.iloc[0] == "interrupted"
    assert set(integrity_report(store).values()) == {0}
    counting = CountingEngine(engine)
    summary = ingest(store, counting, collect([corpus]), "c")
    assert (summary.cached, summary.scored, counting.clips_scored) == (4, 8, 8)
    assert len(select_clips(store, engine.model_key)) == 12


def test_the_same_file_twice_is_stored_once(tmp_path, engine):
    wave = speechlike(1.0)
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, wave, 16_000)
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([tmp_path / "a.wav", tmp_path / "b.wav"]), "c")
    assert (summary.scored, summary.cached) == (1, 1)
    assert "same audio as a.wav" in summary.outcomes[1].message


def test_the_same_audio_under_two_labels_says_which_label_is_kept(tmp_path, engine):
    wave = speechlike(1.0)
    for label in ("angry", "calm"):
        (tmp_path / label).mkdir()
        sf.write(tmp_path / label / "a.wav", wave, 16_000)
    store = Store(tmp_path / "db" / "db.duckdb")
    summary = ingest(
        store, engine, collect([tmp_path]), "c", metadata=from_pattern("{label}/*.wav")
    )
    assert summary.outcomes[1].message == (
        "calm/a.wav: same audio as angry/a.wav; stored once, labelled 'angry' as angry/a.wav "
        "is, so its own label 'calm' is not used."
    )
    with store.reading() as con:
        assert con.execute("SELECT label FROM clips").fetchall() == [("angry",)]


def test_stereo_split_scores_each_channel(tmp_path, engine):
    stereo = np.stack([speechlike(2.0, 1), speechlike(2.0, 2)], axis=1)
    sf.write(tmp_path / "call.wav", stereo, 16_000)
    store = Store(tmp_path / "db.duckdb")
    ingest(store, engine, collect([tmp_path / "call.wav"]), "c", channel_mode="split")
    clips = select_clips(store, engine.model_key)
    assert sorted(clips.track) == ["ch0", "ch1"]
    left = engine.predict([decode(tmp_path / "call.wav").samples[0]])[0].scores
    stored = clips.set_index("track").loc["ch0", list(SCORE_COLUMNS)].to_numpy(dtype=np.float32)
    np.testing.assert_allclose(stored, left, atol=1e-6)


def test_zip_ingest_with_unsafe_members_and_media_copies(tmp_path, engine):
    buffer = io.BytesIO()
    wav = io.BytesIO()
    sf.write(wav, speechlike(1.0), 16_000, format="WAV")
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("agent1/good.wav", wav.getvalue())
        archive.writestr("../evil.wav", wav.getvalue())
        archive.writestr("/abs.wav", wav.getvalue())
        archive.writestr("inner.zip", b"PK")
        archive.writestr("readme.txt", b"hi")
    (tmp_path / "upload.zip").write_bytes(buffer.getvalue())
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(
        store, engine, collect([tmp_path / "upload.zip"]), "z", media_dir=tmp_path / "media"
    )
    messages = sorted(o.message for o in summary.outcomes if o.status == "failed")
    assert summary.scored == 1 and summary.failed == 3
    assert any("leaves the archive" in m for m in messages)
    assert any("absolute path" in m for m in messages)
    assert any("zip inside a zip" in m for m in messages)
    assert not (tmp_path.parent / "evil.wav").exists()
    clip = select_clips(store, engine.model_key).iloc[0]
    assert Path(clip.source_path).parent == tmp_path / "media"
    assert Path(clip.source_path).read_bytes() == wav.getvalue()


def test_zip_bomb_is_refused_before_inflating():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.wav", b"\0" * 5_000_000)
    files = from_zip(buffer.getvalue(), "bomb.zip")
    assert files[0].problem and "zip bomb" in files[0].problem


def test_manifest_metadata_is_stored(tmp_path, engine, corpus_dir):
    manifest = tmp_path / "m.csv"
    manifest.write_text("\ufeffpath;agent;recorded_at;tags\n"
                        "alice/2024-05-01_0.wav;Alice A.;2024-05-01 09:30;billing|angry-customer\n"
                        "bob/2024-05-02_0.wav;Bob;not a date;\n", encoding="utf-8")  # fmt: skip
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([corpus_dir]), "c", metadata=from_manifest(manifest))
    clips = select_clips(store, engine.model_key).set_index("source_name")
    assert clips.loc["alice/2024-05-01_0.wav", "agent"] == "Alice A."
    assert str(clips.loc["alice/2024-05-01_0.wav", "recorded_at"]) == "2024-05-01 09:30:00"
    assert list(clips.loc["alice/2024-05-01_0.wav", "tags"]) == ["billing", "angry-customer"]
    warnings = [o.message for o in summary.outcomes if o.message]
    assert any("'not a date' is not a date" in w for w in warnings)
    assert any("not listed in m.csv" in w for w in warnings)


def test_pattern_metadata(tmp_path, engine, corpus_dir):
    store = Store(tmp_path / "db.duckdb")
    ingest(
        store,
        engine,
        collect([corpus_dir]),
        "c",
        metadata=from_pattern("{agent}/{recorded_at}_*.wav"),
    )
    clips = select_clips(store, engine.model_key)
    assert sorted(clips.agent.unique()) == ["alice", "bob", "carol"]
    assert clips.recorded_at.min().strftime("%Y-%m-%d") == "2024-05-01"


def test_ravdess_actors_as_agents(tmp_path, engine):
    from tests.conftest import RAVDESS

    if not RAVDESS.exists():
        pytest.skip("../shared is absent")
    import csv

    rows = list(csv.DictReader((RAVDESS / "manifest.csv").open()))[:16]
    subset = tmp_path / "rav"
    for row in rows:
        (subset / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RAVDESS / row["path"], subset / row["path"])
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,agent,tags\n" + "".join(f"{r['path']},{r['actor']},{r['emotion']}\n" for r in rows)
    )
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([subset]), "ravdess", metadata=from_manifest(manifest))
    assert summary.scored == 16 and summary.failed == 0
    clips = select_clips(store, engine.model_key)
    assert set(clips.agent) == {r["actor"] for r in rows}
    assert clips.duration_s.between(2.5, 6).all()


def test_same_member_name_in_two_zips_are_two_clips(tmp_path, engine):
    for index in (1, 2):
        wav = io.BytesIO()
        sf.write(wav, speechlike(1.0, seed=index), 16_000, format="WAV")
        with zipfile.ZipFile(tmp_path / f"batch{index}.zip", "w") as archive:
            archive.writestr("call.wav", wav.getvalue())
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(
        store, engine, collect([tmp_path / "batch1.zip", tmp_path / "batch2.zip"]), "z"
    )
    assert summary.scored == 2
    assert select_clips(store, engine.model_key).clip_id.nunique() == 2


def test_channel_roles_name_the_tracks_and_a_manifest_overrides_them(tmp_path, engine):
    from core.ingest.pipeline import parse_roles

    for name, seed in (("call1.wav", 1), ("call2.wav", 3)):
        stereo = np.stack([speechlike(2.0, seed), speechlike(2.0, seed + 1)], axis=1)
        sf.write(tmp_path / name, stereo, 16_000)
    (tmp_path / "m.csv").write_text(
        "path,agent,roles\ncall2.wav,ann,customer|agent\ncall1.wav,ann,\n"
    )
    store = Store(tmp_path / "db.duckdb")
    files = collect([tmp_path / "call1.wav", tmp_path / "call2.wav"])
    ingest(store, engine, files, "calls", channel_mode="split", channel_roles=parse_roles("Agent, customer"),
           metadata=from_manifest(tmp_path / "m.csv"))  # fmt: skip
    clips = select_clips(store, engine.model_key)
    tracks = {(r.source_name, r.track) for r in clips.itertuples()}
    assert tracks == {("call1.wav", "agent"), ("call1.wav", "customer"),
                      ("call2.wav", "customer"), ("call2.wav", "agent")}  # fmt: skip
    left_of_call2 = decode(tmp_path / "call2.wav").samples[0]
    stored = clips[(clips.source_name == "call2.wav") & (clips.track == "customer")][
        list(SCORE_COLUMNS)
    ]
    np.testing.assert_allclose(
        stored.to_numpy(np.float32)[0], engine.predict([left_of_call2])[0].scores, atol=1e-6
    )
    customer_view = select_clips(
        store, engine.model_key, ClipFilter(tracks=("customer",), agents=("ann",))
    )
    assert len(customer_view) == 2
    with pytest.raises(EmoScopeError, match="distinct names"):
        parse_roles("agent, agent")


def empty_entries_zip(path: Path, copies: int, good: bytes) -> Path:
    """A zip of `copies` identical empty entries and one good recording."""
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(copies):
            archive.writestr(f"empty-{i:04d}.wav", b"")
        archive.writestr("good.wav", good)
    return path


def test_repeats_of_a_refused_file_are_refused_each_saying_why(tmp_path, engine):
    good = tmp_path / "good.wav"
    sf.write(good, speechlike(2.0), 16_000)
    archive = empty_entries_zip(tmp_path / "empty.zip", 1000, good.read_bytes())
    store = Store(tmp_path / "db.duckdb")
    with collected([archive]) as inputs:
        summary = ingest(store, engine, inputs, "c")
    assert summary.as_dict() == {"scored": 1, "cached": 0, "failed": 1000, "seconds_audio": 2.0}
    messages = [o.message for o in summary.outcomes if o.status == "failed"]
    assert messages[0] == "empty-0000.wav: the file is empty (0 bytes)."
    assert messages[999] == ("empty-0999.wav: same audio as empty-0000.wav, which could not be "
                             "stored: the file is empty (0 bytes).")  # fmt: skip
    assert set(integrity_report(store).values()) == {0}


def test_a_repeat_in_a_later_batch_fails_with_its_first(tmp_path, engine, monkeypatch):
    monkeypatch.setattr("core.ingest.pipeline.BATCH_FILES", 2)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-empty.wav").write_bytes(b"")
    for i, name in enumerate(["b.wav", "c.wav"]):
        sf.write(folder / name, speechlike(1.0, i), 16_000)
    (folder / "d-empty-copy.wav").write_bytes(b"")
    (folder / "e-copy.wav").write_bytes((folder / "b.wav").read_bytes())
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([folder]), "c")
    assert [o.status for o in summary.outcomes] == ["failed", "scored", "scored", "failed",
                                                    "cached"]  # fmt: skip
    assert summary.outcomes[3].message.startswith("d-empty-copy.wav: same audio as a-empty.wav")
    assert set(integrity_report(store).values()) == {0}


class NaNEngine(CountingEngine):
    """The real engine, except that a clip peaking at 0.95 or more comes back as NaN (as 1e30
    samples once did, through the model's normalisation)."""

    def predict(self, waves, **kwargs):
        predictions = super().predict(waves, **kwargs)
        return [nan_prediction(p) if np.abs(w).max() >= 0.95 else p
                for w, p in zip(waves, predictions, strict=True)]  # fmt: skip


def nan_prediction(p):
    def nan(a):
        return None if a is None else np.full_like(a, np.nan)

    return replace(p, scores=nan(p.scores), embedding=nan(p.embedding),
                   frame_logits=nan(p.frame_logits))  # fmt: skip


@pytest.mark.parametrize("seconds", [2.0, 61.0])  # scored whole, or in windows
def test_a_non_finite_model_output_is_never_stored(tmp_path, engine, seconds):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", speechlike(2.0), 16_000)
    sf.write(folder / "loud.wav", np.clip(speechlike(seconds, 1) * 8, -0.99, 0.99), 16_000)
    (folder / "z-copy.wav").write_bytes((folder / "loud.wav").read_bytes())
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, NaNEngine(engine), collect([folder]), "c", frames=True)
    assert [o.status for o in summary.outcomes] == ["scored", "failed", "failed"]
    assert summary.outcomes[1].message == (
        "loud.wav: the model's output for this audio is not a finite number (NaN or infinity); "
        "nothing was stored. Check its levels and re-export it."
    )
    assert summary.outcomes[2].message.startswith("z-copy.wav: same audio as loud.wav, which")
    clips = select_clips(store, engine.model_key)
    assert list(clips.source_name) == ["a.wav"] and clips.confidence.notna().all()
    assert set(integrity_report(store).values()) == {0}


def test_a_float_wav_of_1e30_samples_stores_no_nan(tmp_path, engine):
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", speechlike(2.0), 16_000)
    sf.write(folder / "huge.wav", speechlike(2.0, 1) * np.float32(1e30), 16_000, subtype="FLOAT")
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([folder]), "c")
    assert summary.outcomes[1].status == "failed"
    assert re.match(r"^huge\.wav: its samples reach [\d.]+e\+(29|30), where full scale is 1\.0: "
                    "these are not audio levels", summary.outcomes[1].message)  # fmt: skip
    clips = select_clips(store, engine.model_key)
    assert list(clips.source_name) == ["a.wav"] and clips.confidence.notna().all()
