import subprocess
import sys
from datetime import datetime

import duckdb
import numpy as np
import pytest

from core.errors import InputError, StoreBusyError, StoreError
from core.model.engine import frame_count
from core.store.batches import write_batch
from core.store.clips import select_clips
from core.store.corpora import list_corpora
from core.store.curves import read_frame_logits, read_frame_rows
from core.store.database import (
    SCHEMA_VERSION,
    ClipFilter,
    ClipRecord,
    FileOutcome,
    ScoredTrack,
    Store,
    resolve_db_path,
)
from core.store.embeddings import select_embeddings
from core.store.ingest_runs import finish_run, list_runs, start_run
from core.store.integrity import integrity_report
from core.store.models import register_model
from tests.store.older import database_at


def _scored(store: Store, n: int = 3, dim: int = 4, frames: bool = False) -> str:
    key = "m@rev"
    register_model(store, key, "m", "rev", dim, untrained=True)
    run = start_run(store, "c1", key, n)
    clips = [ClipRecord(f"id{i}", f"f{i}.wav", None, 1.0 + i, 16000, 1, "pcm_s16le", 100,
                        agent=f"a{i % 2}", recorded_at=datetime(2024, 5, 1 + i), tags=("x", "y"))
             for i in range(n)]  # fmt: skip
    scores = np.eye(9, dtype=np.float32)
    tracks = [ScoredTrack(f"id{i}", "mix", scores[i] * 0.9 + 0.1 / 9, np.full(dim, i, np.float32),
                          np.zeros((frame_count(16_000 * (1 + i)), 9), np.float32) if frames else None)
              for i in range(n)]  # fmt: skip
    outcomes = [FileOutcome(f"f{i}.wav", "scored", f"id{i}", 1.0) for i in range(n)]
    write_batch(store, run, "c1", key, dim, clips, tracks, outcomes)
    finish_run(store, run)
    return key


def test_db_path_rule(monkeypatch, tmp_path):
    monkeypatch.delenv("EMOSCOPE_DB", raising=False)
    assert resolve_db_path().name == "emoscope.duckdb"
    assert resolve_db_path().parent.name == "data"
    monkeypatch.setenv("EMOSCOPE_DB", str(tmp_path / "env.duckdb"))
    assert resolve_db_path() == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"


def test_schema_is_created_and_versioned(store):
    store.initialise()
    con = duckdb.connect(str(store.path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_info").fetchone()[0] == SCHEMA_VERSION
    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    con.close()
    assert {"corpora", "clips", "predictions", "frame_curves", "ingest_runs", "ingest_files",
            "models", "projections"} <= tables  # fmt: skip


def test_a_newer_schema_is_refused(store):
    store.initialise()
    con = duckdb.connect(str(store.path))
    con.execute("INSERT INTO schema_info VALUES (99)")
    con.close()
    with pytest.raises(StoreError, match="newer EmoScope"):
        list_corpora(store)


def test_a_newer_schema_written_after_a_read_is_refused_at_the_next_read(store):
    """Reads skip the version query while the file is unchanged; a change brings it back."""
    store.initialise()
    assert list_corpora(store).empty  # reads the version, and remembers the file as checked
    con = duckdb.connect(str(store.path))
    con.execute("INSERT INTO schema_info VALUES (99)")
    con.close()
    with pytest.raises(StoreError, match="newer EmoScope"):
        list_corpora(store)


def test_not_a_database(tmp_path):
    (tmp_path / "x.duckdb").write_text("garbage")
    with pytest.raises(StoreError, match="x.duckdb"):
        list_corpora(Store(tmp_path / "x.duckdb"))


def test_scores_filters_and_values(store):
    key = _scored(store)
    clips = select_clips(store, key)
    assert list(clips.source_name) == ["f0.wav", "f1.wav", "f2.wav"]
    assert list(clips.top_label) == ["angry", "disgusted", "fearful"]
    assert clips.confidence.iloc[0] == pytest.approx(0.9 + 0.1 / 9)
    assert list(clips.tags.iloc[0]) == ["x", "y"]
    assert len(select_clips(store, key, ClipFilter(agents=("a0",)))) == 2
    assert len(select_clips(store, key, ClipFilter(top_labels=("fearful",)))) == 1
    assert len(select_clips(store, key, ClipFilter(min_duration_s=2.0))) == 2
    assert (
        len(
            select_clips(
                store, key, ClipFilter(date_from=datetime(2024, 5, 2), date_to=datetime(2024, 5, 3))
            )
        )
        == 1
    )
    # A hostile value is bound, not interpolated.
    assert select_clips(store, key, ClipFilter(agents=("a0') OR 1=1 --",))).empty


def test_order_by_allowlist(store):
    key = _scored(store)
    assert next(iter(select_clips(store, key, order_by="duration_s").source_name)) == "f0.wav"
    with pytest.raises(InputError, match="unknown column"):
        select_clips(store, key, order_by="duration_s; DROP TABLE clips")


def test_embeddings_are_fixed_size_arrays(store):
    key = _scored(store, dim=4)
    _clips, matrix = select_embeddings(store, key)
    assert matrix.shape == (3, 4)
    np.testing.assert_array_equal(matrix[:, 0], [0, 1, 2])
    con = duckdb.connect(str(store.path), read_only=True)
    assert (
        con.execute("SELECT typeof(embedding) FROM embeddings_d4 LIMIT 1").fetchone()[0]
        == "FLOAT[4]"
    )
    con.close()


def test_frame_curves_round_trip(store):
    key = _scored(store, frames=True)
    logits = read_frame_logits(store, "id1", key)
    assert logits.shape == (frame_count(32_000), 9)  # id1 lasts 2 s
    rows = read_frame_rows(store, key)
    assert len(rows) == sum(frame_count(16_000 * s) for s in (1, 2, 3))
    assert rows.filter(like="score_").sum(axis=1).round(5).eq(1).all()
    assert read_frame_logits(store, "nope", key) is None


def test_integrity_of_a_fresh_ingest(store):
    _scored(store, frames=True)
    assert set(integrity_report(store).values()) == {0}


@pytest.mark.parametrize(
    "damage, check",
    [
        ("DELETE FROM predictions WHERE clip_id = 'id1'", "clips_without_prediction"),
        ("UPDATE frame_curves SET n_frames = 20, logits = logits[:180] WHERE clip_id = 'id2'",
         "curves_not_covering_clip"),
        ("DELETE FROM ingest_files WHERE clip_id = 'id0'", "finished_runs_missing_file_rows"),
        ("UPDATE ingest_files SET clip_id = 'gone' WHERE clip_id = 'id0'", "logged_clips_missing"),
        ("DELETE FROM embeddings_d4 WHERE clip_id = 'id0'", "predictions_without_embedding_d4"),
    ],
)  # fmt: skip
def test_integrity_report_finds_damage(store, damage, check):
    _scored(store, frames=True)
    con = duckdb.connect(str(store.path))
    con.execute(damage)
    con.close()
    report = integrity_report(store)
    assert report[check] == 1
    assert sum(report.values()) >= 1


def test_rewrite_of_the_same_clip_adds_no_duplicates(store):
    key = _scored(store)
    _scored(store)
    assert len(select_clips(store, key)) == 3
    assert list_runs(store).shape[0] == 2


def test_busy_database_gives_a_clear_message(tmp_path):
    path = tmp_path / "busy.duckdb"
    Store(path).initialise()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreBusyError, match="database busy"):
            list_corpora(Store(path, busy_timeout_s=0.5))
    finally:
        holder.kill()
        holder.wait()
    assert list_corpora(Store(path)).empty  # usable again once the other process is gone


def test_an_older_schema_is_migrated_on_first_read(store):
    database_at(store.path, 2).close()  # written by the version before segments existed
    assert list_corpora(store).empty
    con = duckdb.connect(str(store.path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_info").fetchall()[0][0] == SCHEMA_VERSION
    con.close()


def test_nested_reads_share_one_opening_of_the_file(store, monkeypatch):
    """A read inside another read of the same thread is a cursor on its connection (one search
    opens the file once); the next read after them opens the file again."""
    opened = []
    connect = Store._connect

    def counting(self, write):
        opened.append(write)
        return connect(self, write)

    store.initialise()
    monkeypatch.setattr(Store, "_connect", counting)
    with store.reading() as outer:
        with store.reading() as inner:
            assert inner is not outer
            assert inner.execute("SELECT count(*) FROM clips").fetchall() == [(0,)]
        assert outer.execute("SELECT 1").fetchall() == [(1,)]  # its own result set, still open
    assert opened == [False]
    with store.reading() as again:
        assert again.execute("SELECT 2").fetchall() == [(2,)]
    assert opened == [False, False]


def test_connections_draw_no_progress_bar_on_stdout(store):
    """DuckDB draws a bar on stdout for a query over 2 s (a 1M-clip migration, export or
    check): it would land in the CLI's --json output, so every connection turns it off."""
    with store.writing() as con:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    with store.reading() as con:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
