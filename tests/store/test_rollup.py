"""The day rollup (core.store.rollup): the Overview and Agent trends summed from days equal what the
tracks count, for every filter the rollup keeps, and it is never read once stale."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from core.access.principal import Principal, Role
from core.analysis.overview import overview
from core.records import ClipFilter, ClipRecord, FileOutcome, ScoredTrack
from core.store import rollup
from core.store.aggregates import agent_trends, clip_summary
from core.store.batches import write_batch
from core.store.database import Store
from core.store.deletion import delete_corpus
from core.store.ingest_runs import finish_run, start_run
from tests.analysis.test_overview import MODEL, MONDAY, generated_rows, scores_for, write

PERIODS = ("day", "week", "month")
MIDNIGHT = MONDAY.replace(hour=0, minute=0)
# Every filter the rollup keeps, alone and together (the dashboard's dates are whole days).
KEPT = {
    "none": ClipFilter(),
    "agents": ClipFilter(agents=("ann", "cat")),
    "corpus": ClipFilter(corpora=("calls",)),
    "from": ClipFilter(date_from=MIDNIGHT + timedelta(days=9)),
    "to": ClipFilter(date_to=MIDNIGHT + timedelta(days=23)),
    "all three": ClipFilter(corpora=("calls",), agents=("bob",),
                            date_from=MIDNIGHT + timedelta(days=7), date_to=MIDNIGHT + timedelta(days=28)),
}  # fmt: skip
NOT_KEPT = {
    "emotion": ClipFilter(top_labels=("angry",)),
    "track": ClipFilter(tracks=("agent",)),
    "clip": ClipFilter(clip_ids=("clip00001",)),
    "min confidence": ClipFilter(min_confidence=0.05),
    "max confidence": ClipFilter(max_confidence=0.95),
    "min duration": ClipFilter(min_duration_s=1.0),
    "max duration": ClipFilter(max_duration_s=10_000.0),
    "date with a time": ClipFilter(date_from=MONDAY),
}
ADMIN = Principal("admin@team.test", Role.ADMIN)


def copy_of(built: Path, folder: Path) -> Store:
    """A test's own copy of a database the module built once (it holds no paths of media)."""
    assert not Path(f"{built}.wal").exists()  # closed connections leave every write in the file
    shutil.copy(built, folder / built.name)
    return Store(folder / built.name)


@pytest.fixture(scope="module")
def one_corpus_built(tmp_path_factory) -> Path:
    store = Store(tmp_path_factory.mktemp("rollup") / "rollup.duckdb")
    write(store, "calls", generated_rows())
    return store.path


@pytest.fixture
def one_corpus(one_corpus_built, tmp_path) -> Store:
    """The Overview tests' generated rows (planted shifts, undated clips, a split call, clips
    without an agent), in one corpus; built once, a copy for each test."""
    return copy_of(one_corpus_built, tmp_path)


def answers(store: Store, where: ClipFilter = ClipFilter()) -> bool:
    with store.reading() as con:
        return rollup.answers(con, where)


def from_tracks(store: Store, where: ClipFilter, period: str, monkeypatch):
    """The Overview, trends and the Clips page's summary counted from the tracks, the rollup
    ignored."""
    with monkeypatch.context() as patch:
        patch.setattr(rollup, "answers", lambda *args, **kwargs: False)
        return (overview(store, MODEL, where, period), agent_trends(store, MODEL, where, period),
                clip_summary(store, MODEL, where))  # fmt: skip


def assert_same_volume(got, expected) -> None:
    got, expected = asdict(got), asdict(expected)
    assert got.pop("hours") == pytest.approx(expected.pop("hours"))  # summed in another order
    assert got == expected


def assert_same(store: Store, where: ClipFilter, period: str, monkeypatch) -> None:
    """The rollup is used for `where`, and gives what the tracks give."""
    assert answers(store, where)
    summed, summed_trends = (
        overview(store, MODEL, where, period),
        agent_trends(store, MODEL, where, period),
    )
    summary = clip_summary(store, MODEL, where)
    counted, counted_trends, counted_summary = from_tracks(store, where, period, monkeypatch)
    assert (summary.rows, summary.recordings) == (counted_summary.rows, counted_summary.recordings)
    assert summary.mean_confidence == pytest.approx(counted_summary.mean_confidence, rel=1e-6)
    assert_same_volume(summed.volume, counted.volume)
    assert summed.latest_start == counted.latest_start
    pd.testing.assert_frame_equal(summed.mix, counted.mix)
    pd.testing.assert_frame_equal(summed.shifts, counted.shifts)
    pd.testing.assert_frame_equal(summed_trends, counted_trends, check_exact=False, rtol=1e-6)


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("name", KEPT)
def test_sums_of_days_equal_the_counted_tracks(one_corpus, name, period, monkeypatch):
    assert_same(one_corpus, KEPT[name], period, monkeypatch)
    assert overview(one_corpus, MODEL, KEPT[name], period).volume.tracks > 0  # not a vacuous case


@pytest.mark.parametrize("name", NOT_KEPT)
def test_a_filter_it_does_not_keep_counts_from_the_tracks(one_corpus, name):
    assert answers(one_corpus)
    assert not answers(one_corpus, NOT_KEPT[name])


def test_numbers_of_the_rollup_itself(one_corpus):
    rows = generated_rows()
    with one_corpus.reading() as con:
        days = con.execute("SELECT * FROM day_rollup").df()
    assert days.tracks.sum() == len(rows)
    assert days.recordings.sum() == rows.clip_id.nunique()  # the split call is one recording
    assert days.seconds_audio.sum() == pytest.approx(
        rows.drop_duplicates("clip_id").duration_s.sum()
    )
    assert days[[c for c in days if c.startswith("n_") and c != "n_low"]].sum().sum() == len(rows)
    assert days.n_low.sum() == (rows.confidence < 0.5).sum()
    assert days.sum_confidence.sum() == pytest.approx(rows.confidence.sum(), rel=1e-6)
    per_day = rows.assign(day=rows.recorded_at.dt.normalize()).groupby(
        ["agent", "day"], dropna=False
    )
    assert len(days) == per_day.ngroups


def test_a_batch_makes_it_stale_until_the_run_ends(one_corpus, monkeypatch):
    """Mid-ingest the Overview counts the tracks: the new clip is in it at once."""
    run = start_run(one_corpus, "calls", MODEL, 1)
    new = ClipRecord("late", "late.wav", None, 30.0, 16_000, 1, "pcm", 1000, "zoe",
                     MONDAY + timedelta(days=30))  # fmt: skip
    track = ScoredTrack("late", "mix", scores_for("sad", 0.9), np.zeros(4))
    write_batch(one_corpus, run, "calls", MODEL, 4, [new], [track],
                           [FileOutcome("late.wav", "scored", "late", 30.0)])  # fmt: skip
    assert not answers(one_corpus)
    mid = overview(one_corpus, MODEL, ClipFilter(), "week")
    assert mid.volume.recordings == generated_rows().clip_id.nunique() + 1
    assert mid.volume.agents == 5
    finish_run(one_corpus, run)
    assert answers(one_corpus)
    assert_same_volume(overview(one_corpus, MODEL, ClipFilter(), "week").volume, mid.volume)
    assert_same(one_corpus, ClipFilter(agents=("zoe",)), "week", monkeypatch)


def test_new_metadata_for_a_stored_clip_moves_its_counts(one_corpus, monkeypatch):
    """Ingesting a clip again with another agent and date (a corrected manifest)."""
    rows = generated_rows()
    first = (
        rows[rows.track == "mix"].iloc[[0]].assign(agent="yann", recorded_at=pd.Timestamp(MIDNIGHT))
    )
    write(one_corpus, "calls", first)
    assert answers(one_corpus)
    yann = overview(one_corpus, MODEL, ClipFilter(agents=("yann",)), "day").volume
    assert (yann.recordings, yann.tracks, yann.first_at) == (1, 1, MIDNIGHT)
    assert_same(one_corpus, ClipFilter(), "day", monkeypatch)


def test_a_writer_that_does_not_say_what_it_changes_makes_it_stale(one_corpus):
    with one_corpus.writing() as con:
        con.execute("UPDATE clips SET agent = 'zed' WHERE agent = 'dan'")
    assert not answers(one_corpus)
    assert "zed" in set(agent_trends(one_corpus, MODEL, ClipFilter(), "week").agent)


@pytest.fixture(scope="module")
def shared_built(tmp_path_factory) -> Path:
    rows = generated_rows()
    store = Store(tmp_path_factory.mktemp("rollup") / "shared.duckdb")
    write(store, "calls", rows)
    write(store, "audit", rows[rows.clip_id.isin(rows.clip_id.unique()[-50:])])
    return store.path


@pytest.fixture
def shared(shared_built, tmp_path) -> Store:
    """The generated rows in corpus 'calls', and their last 50 clips (the split call among them)
    in corpus 'audit' too; built once, a copy for each test."""
    return copy_of(shared_built, tmp_path)


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("name", KEPT)
def test_clips_in_two_corpora_are_counted_once(shared, name, period, monkeypatch):
    """The days of unshared clips are summed, the shared clips counted from their tracks."""
    with shared.reading() as con:
        assert rollup.counts_shared_apart(con, KEPT[name]) == (name not in ("corpus", "all three"))
    assert_same(shared, KEPT[name], period, monkeypatch)


def test_deleting_a_corpus_rebuilds_it_at_once(shared, tmp_path, monkeypatch):
    delete_corpus(shared, ADMIN, "audit", tmp_path / "media")
    assert answers(shared)  # rebuilt in the deletion's transaction
    with shared.reading() as con:
        assert not rollup.counts_shared_apart(con, ClipFilter())  # no clip is shared now
    assert_same(shared, ClipFilter(), "week", monkeypatch)
    assert overview(shared, MODEL, ClipFilter(), "week").volume.tracks == len(generated_rows())


def test_a_file_from_before_the_rollup_gets_it_when_opened(one_corpus, monkeypatch):
    """Schema 7 had no rollup: opening such a file migrates it and counts what it holds."""
    path = one_corpus.path
    with duckdb.connect(str(path)) as con:
        # the tables of step 8 (the rollup) and of every later step (9: tokens, 10: transcripts,
        # 11: the per-track rollup)
        for table in ("day_rollup", "data_version", "rollup_state", "shared_clips",
                      "api_tokens", "transcripts", "transcribed", "track_day_rollup"):  # fmt: skip
            con.execute(f"DROP TABLE {table}")
        con.execute("DROP SEQUENCE token_seq")
        con.execute("DELETE FROM schema_info WHERE version >= 8")
    reopened = Store(path)
    assert answers(reopened)
    assert_same(reopened, ClipFilter(), "week", monkeypatch)


def test_an_empty_database_has_a_current_empty_rollup(tmp_path: Path):
    store = Store(tmp_path / "empty.duckdb")
    assert answers(store)
    result = overview(store, MODEL, ClipFilter(), "week")
    assert result.volume.tracks == 0 and result.mix.empty
    assert agent_trends(store, MODEL, ClipFilter(), "week").empty
    summary = clip_summary(store, MODEL, ClipFilter())
    assert (summary.rows, summary.recordings, summary.mean_confidence) == (0, 0, None)


def test_a_run_that_wrote_nothing_does_not_recount(one_corpus, monkeypatch):
    """finish_run recounts only a stale rollup: ~1.5 s at 1M clips saved for a run whose every
    file failed or that was interrupted before its first batch."""
    calls = []
    monkeypatch.setattr(rollup, "rebuild", lambda con: calls.append(con))
    finish_run(one_corpus, start_run(one_corpus, "calls", MODEL, 0))
    assert calls == [] and answers(one_corpus)
