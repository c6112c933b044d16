"""The Exports page writes a file in a background job (#30): a bar with the rows written of the
rows selected and the time taken, then a download button serving the file from disk; the file
goes when a newer export replaces it, the selection changes or the session ends."""

from __future__ import annotations

import gc
import io
import re
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from core.jobs import JOBS
from core.records import ClipFilter
from tests.apptest import open_page


@pytest.fixture
def db(seeded_db, tmp_path) -> Path:
    """A copy of the seeded database (3 agents x 4 clips): exports write audit rows."""
    copy = tmp_path / "exports.duckdb"
    shutil.copy(seeded_db, copy)
    return copy


def export_run(at):
    """This session's export and its job (dashboard.export_runs)."""
    from dashboard import export_runs

    run = at.session_state[export_runs.SESSION_KEY]
    return run, JOBS.get(run.key)


def finished_export(at, key: str):
    """Click an export button, wait for its job, run the page again; the job's final state."""
    at.button(key=key).click().run()
    run, job = export_run(at)
    state = job.wait()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return run, state


def test_an_export_runs_in_the_background_and_serves_the_store_rows(db, monkeypatch):
    from core.access import audit
    from core.store.clips import select_clips
    from core.store.database import Store
    from dashboard import downloads

    at = open_page("exports", db, monkeypatch)
    assert not at.get("progress") and not at.get("download_button")  # nothing is written yet
    run, state = finished_export(at, "clips-csv")
    assert (state.error, state.done, state.total, state.result.rows) == (None, 12, 12, 12)
    [ready] = [s.value for s in at.success]
    size = f"{state.result.size / 1e6:.1f}"
    assert re.fullmatch(rf"clips\.csv is ready: 12 rows, {size} MB, written in \d+ s\.", ready)
    [button] = at.get("download_button")
    assert button.proto.label == "Download emoscope-clips.csv"
    assert not any(b.disabled for b in at.main.button)  # another export may start
    with downloads.served(None, state.result)() as handle:
        written = pd.read_csv(io.BytesIO(handle.read()), keep_default_na=False)
    store = Store(db)
    key = run.request.model_key
    stored = select_clips(store, key)
    columns = ["clip_id", "track", "agent", "source_name", "top_label"]
    order = ["clip_id", "track"]
    assert written[columns].sort_values(order).reset_index(drop=True).equals(
        stored[columns].sort_values(order).reset_index(drop=True))  # fmt: skip
    scores = [c for c in written.columns if c.startswith("score_")]
    pd.testing.assert_frame_equal(written.sort_values(order)[scores].reset_index(drop=True),
                                  stored.sort_values(order)[scores].reset_index(drop=True),
                                  check_dtype=False, rtol=1e-6)  # fmt: skip
    log = audit.read(store, action="export")
    assert list(log.detail) == [f"clips.csv, {key}, filter: none"]


def test_the_bar_shows_rows_written_and_cancel_stops_the_job(db, monkeypatch):
    from core.store import export
    from dashboard import downloads

    reached, go_on = threading.Event(), threading.Event()

    def halfway(store, what, fmt, model_key, where, bom, progress, expected):
        progress(0, 12)
        progress(5, 12)
        reached.set()
        go_on.wait()
        progress(12, 12)  # a cancelled export's job stops here (Cancelled)
        raise AssertionError("a cancelled export went on")

    monkeypatch.setattr(export, "export_to_temp", halfway)
    at = open_page("exports", db, monkeypatch)
    at.button(key="clips-parquet").click().run()
    run, job = export_run(at)
    try:
        reached.wait()
        at.run()
        [bar] = at.get("progress")
        assert bar.value == 41  # 5 of 12
        assert re.fullmatch(r"clips\.parquet: 5 of 12 rows written · \d+ s", bar.text)
        assert any("other pages stay usable" in c.value for c in at.caption)
        exports = [b for b in at.main.button if b.key != "export-cancel"]
        assert len(exports) == 6 and all(b.disabled for b in exports)  # one export at a time
        at.button(key="export-cancel").click().run()
    finally:
        go_on.set()
    state = job.wait()
    assert state.error == downloads.CANCELLED and state.result is None
    at.run()
    assert not at.get("progress") and not at.get("download_button")
    assert not any(b.disabled for b in at.main.button)
    assert JOBS.get(run.key) is None  # forgotten


def test_a_newer_export_or_another_selection_removes_the_file(db, monkeypatch):
    at = open_page("exports", db, monkeypatch)
    _, first = finished_export(at, "clips-csv")
    assert first.result.path.is_file()
    _, second = finished_export(at, "embeddings-parquet")
    assert not first.result.path.exists() and not first.result.path.parent.exists()
    assert second.result.path.is_file() and second.result.rows == 12
    agent = next(m for m in at.sidebar.multiselect if m.label == "Agent")
    agent.set_value(["alice"]).run()  # the session moved on to another selection
    assert not second.result.path.exists()
    assert not at.get("download_button") and not at.success
    assert [b.label for b in at.main.button][:2] == ["clips.csv (4 rows)", "clips.parquet (4 rows)"]


def test_the_file_goes_when_the_session_ends(db, monkeypatch):
    """A session's state is released when it ends: the export's finalizer removes the file."""
    from dashboard import downloads, export_runs

    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    from dashboard import reads

    request = downloads.ExportRequest("clips", "csv", str(reads.models().model_key[0]),
                                      ClipFilter())  # fmt: skip
    slot = downloads.FileSlot()
    job = downloads.start_export(None, request, slot)
    state = job.wait()
    run = export_runs.SessionExport(request, job.key, slot)
    assert state.result.path.is_file()
    del run
    gc.collect()
    assert not state.result.path.exists() and JOBS.get(job.key) is None


def test_the_download_says_so_when_its_file_is_gone(db, monkeypatch):
    from dashboard import downloads

    at = open_page("exports", db, monkeypatch, lang="zh")
    run, state = finished_export(at, "clips-parquet")
    [ready] = [s.value for s in at.success]
    assert ready.startswith("clips.parquet 已生成：12 行")
    assert at.get("download_button")[0].proto.label == "下载 emoscope-clips.parquet"
    run.discard()
    holder: dict = {}
    downloads._FAILURE.set(holder)
    with pytest.raises(FileNotFoundError):
        downloads.served(None, state.result, "zh")()
    assert holder["message"] == "该文件已从服务器删除，请重新导出。"
