"""The pipelined ingest: columnar writes, reader threads, one read per file, races with others."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

import core.ingest.pipeline
import core.ingest.reading
from core.errors import EmoScopeError, StoreBusyError
from core.ingest.metadata import Metadata
from core.ingest.pipeline import ingest
from core.ingest.reading import ReadOptions, decode_unit, read_file
from core.ingest.sources import InputFile, collect
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipRecord, FileOutcome, ScoredTrack, SegmentRecord
from core.store.batches import write_columns
from core.store.clips import select_clips
from core.store.columns import BatchColumns
from core.store.curves import read_frame_logits, read_segments
from core.store.database import Store
from core.store.embeddings import select_embeddings
from core.store.ingest_runs import list_runs, read_run_files, start_run
from core.store.integrity import integrity_report
from core.store.models import register_model
from tests.conftest import make_corpus, speechlike
from tests.ingest.test_ingest import CountingEngine


def test_columnar_write_stores_every_value(store):
    """BatchColumns.of -> write_columns keeps scores, the top label, lists and arrays intact."""
    register_model(store, "m@1", "m", "1", 4, untrained=True)
    run = start_run(store, "c", "m@1", 2)
    scores = np.array([0.05, 0.1, 0.05, 0.4, 0.1, 0.1, 0.1, 0.05, 0.05], np.float32)
    logits = np.arange(27, dtype=np.float32).reshape(3, 9)
    clips = [ClipRecord("a", "a.wav", None, 0.07, 16_000, 1, "pcm", 10, agent="ann",
                        tags=("x", "y")),
             ClipRecord("b", "b.wav", "/b.wav", 0.07, 8_000, 2, "mp3", 20)]  # fmt: skip
    tracks = [ScoredTrack("a", "mix", scores, np.arange(4, dtype=np.float32), logits),
              ScoredTrack("b", "mix", scores[::-1].copy(), np.ones(4, np.float32))]  # fmt: skip
    segments = [SegmentRecord("a", "mix", 0, 0.0, 0.07, scores)]
    outcomes = [FileOutcome("a.wav", "scored", "a", 0.07), FileOutcome("b.wav", "scored", "b")]
    write_columns(store, run, "c", "m@1", 4, BatchColumns.of(4, clips, tracks, outcomes, segments))

    rows = select_clips(store, "m@1").set_index("clip_id")
    assert rows.loc["a", "top_label"] == "happy" and rows.loc["b", "top_label"] == "other"
    assert rows.loc["a", "confidence"] == pytest.approx(0.4)
    assert list(rows.loc["a", list(SCORE_COLUMNS)]) == pytest.approx(list(scores))
    assert list(rows.loc["a", "tags"]) == ["x", "y"] and rows.loc["a", "agent"] == "ann"
    np.testing.assert_array_equal(read_frame_logits(store, "a", "m@1"), logits)
    assert read_frame_logits(store, "b", "m@1") is None
    table, matrix = select_embeddings(store, "m@1")
    np.testing.assert_array_equal(matrix[list(table.clip_id).index("a")], np.arange(4))
    segment = read_segments(store, "a", "m@1").iloc[0]
    assert (segment.top_label, list(segment.scores)) == ("happy", pytest.approx(list(scores)))
    assert list(read_run_files(store, run).status) == ["scored", "scored"]


def test_columnar_write_is_idempotent(store):
    register_model(store, "m@1", "m", "1", 2, untrained=True)
    run = start_run(store, "c", "m@1", 1)
    cols = BatchColumns.of(
        2, [ClipRecord("a", "a.wav", None, 1.0, 16_000, 1, "pcm", 1)],
        [ScoredTrack("a", "mix", np.full(9, 1 / 9, np.float32), np.zeros(2, np.float32))],
        [FileOutcome("a.wav", "scored", "a", 1.0)],
    )  # fmt: skip
    write_columns(store, run, "c", "m@1", 2, cols)
    write_columns(store, run, "c", "m@1", 2, cols)
    assert len(select_clips(store, "m@1")) == 1
    assert select_clips(store, "m@1").top_label[0] == EMOTIONS[0]  # a tie goes to the first class


def test_empty_batch_columns_have_every_schema():
    empty = BatchColumns.empty(8)
    assert empty.embeddings.schema.field("embedding").type == pa.list_(pa.float32(), 8)
    assert all(t.num_rows == 0 for t in vars(empty).values())


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_reader_threads_give_the_same_rows_in_input_order(tmp_path, engine, corpus_dir, workers):
    reference = ingest(Store(tmp_path / "ref.duckdb"), engine, collect([corpus_dir]), "c",
                       frames=True, workers=1)  # fmt: skip
    store = Store(tmp_path / f"w{workers}.duckdb")
    summary = ingest(store, engine, collect([corpus_dir]), "c", frames=True, workers=workers)
    assert [o.source_name for o in summary.outcomes] == sorted(
        o.source_name for o in summary.outcomes
    )
    assert summary.outcomes == reference.outcomes
    rows = select_clips(store, engine.model_key)
    expected = select_clips(Store(tmp_path / "ref.duckdb"), engine.model_key)
    np.testing.assert_allclose(rows[list(SCORE_COLUMNS)], expected[list(SCORE_COLUMNS)], atol=1e-6)
    assert set(integrity_report(store).values()) == {0}


def test_workers_below_one_is_refused(tmp_path, engine, corpus_dir):
    with pytest.raises(EmoScopeError, match="--workers 0: give at least 1"):
        ingest(Store(tmp_path / "db.duckdb"), engine, collect([corpus_dir]), "c", workers=0)


def test_the_bytes_hashed_are_the_bytes_decoded(tmp_path):
    """A file replaced after its read is still stored as the version that was hashed."""
    path = tmp_path / "a.wav"
    sf.write(path, speechlike(2.0), 16_000)
    read = read_file(InputFile("a.wav", path=path))
    sf.write(path, speechlike(5.0), 16_000)  # version B lands between hashing and decoding
    unit = decode_unit(read, Metadata(), set(), ReadOptions())
    assert unit.outcome.status == "scored"
    assert unit.clip.duration_s == pytest.approx(2.0)
    assert unit.clip.clip_id == read.clip_id


def test_a_streamed_file_changed_mid_read_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(core.ingest.reading, "HOLD_BYTES", 0)  # stream every file from disk
    path = tmp_path / "a.wav"
    sf.write(path, speechlike(2.0), 16_000)
    read = read_file(InputFile("a.wav", path=path))
    assert read.data is None and read.stamp is not None
    sf.write(path, speechlike(3.0), 16_000)
    os.utime(path, ns=(read.stamp[1] + 10**9, read.stamp[1] + 10**9))
    unit = decode_unit(read, Metadata(), set(), ReadOptions())
    assert unit.outcome.status == "failed"
    assert unit.outcome.message == (
        "a.wav: the file changed while being read; nothing was stored, ingest it again."
    )


def test_a_file_scored_meanwhile_by_another_ingest_is_not_scored_again(
    tmp_path, engine, monkeypatch
):
    corpus = make_corpus(tmp_path / "c", agents=("ann",), per_agent=3)
    store = Store(tmp_path / "db.duckdb")
    ingest(store, engine, collect([corpus]), "first")
    # The race: this run's cache check ran before the other ingest committed its batch.
    monkeypatch.setattr(core.ingest.pipeline, "cache_state", lambda store, *a: ({}, set()))
    counting = CountingEngine(engine)
    summary = ingest(store, counting, collect([corpus]), "second")
    assert counting.clips_scored == 0
    assert (summary.scored, summary.cached) == (0, 3)
    assert all("scored meanwhile by another ingest" in o.message for o in summary.outcomes)
    assert len(select_clips(store, engine.model_key, store_filter("second"))) == 3
    assert set(integrity_report(store).values()) == {0}


def store_filter(corpus: str):
    from core.records import ClipFilter

    return ClipFilter(corpora=(corpus,))


def test_a_failure_in_the_reading_stage_ends_the_run_as_interrupted(
    tmp_path, engine, corpus_dir, monkeypatch
):
    store = Store(tmp_path / "db.duckdb")
    store.initialise()

    def busy(store, *args):
        raise StoreBusyError("database busy")

    monkeypatch.setattr(core.ingest.pipeline, "cache_state", busy)
    with pytest.raises(StoreBusyError):
        ingest(store, engine, collect([corpus_dir]), "c")
    assert list_runs(store).status.iloc[0] == "interrupted"


def test_progress_counts_every_file_and_its_audio_as_it_is_taken_in(tmp_path, engine):
    corpus = make_corpus(tmp_path / "c", agents=("ann",), per_agent=3)  # 1, 2 and 3 s
    store = Store(tmp_path / "db.duckdb")
    seen = []
    ingest(store, engine, collect([corpus]), "c", on_progress=lambda *a: seen.append(a))
    assert [(d, t) for d, t, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert [s for _, _, s in seen] == pytest.approx([1.0, 3.0, 6.0])
    seen.clear()  # a rerun: cached audio counts too
    ingest(store, engine, collect([corpus]), "c", on_progress=lambda *a: seen.append(a))
    assert seen[-1][2] == pytest.approx(6.0)


@pytest.mark.parametrize("seconds", [2.0, 61.0])  # decoded whole, or streamed in windows
def test_a_decoder_crash_fails_that_file_and_the_run_goes_on(
    tmp_path, engine, monkeypatch, seconds
):
    from core.model import isolated
    from tests.model.test_isolated import CRASHING

    monkeypatch.setattr(isolated, "_POOL", isolated.DecoderPool(CRASHING))
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(["a.wav", "crash.wav", "b.wav"]):
        sf.write(folder / name, speechlike(seconds if name == "crash.wav" else 2.0, i), 16_000)
    store = Store(tmp_path / "db.duckdb")
    summary = ingest(store, engine, collect([folder]), "c")
    assert [(o.source_name, o.status) for o in summary.outcomes] == [
        ("a.wav", "scored"), ("b.wav", "scored"), ("crash.wav", "failed")]  # fmt: skip
    assert summary.outcomes[2].message.startswith(
        "crash.wav: the audio decoder crashed on this file (SIGSEGV); nothing was stored"
    )
    assert set(select_clips(store, engine.model_key).source_name) == {"a.wav", "b.wav"}
    assert set(integrity_report(store).values()) == {0}
    assert isolated._POOL._idle == []  # the run's decoder processes ended with it
