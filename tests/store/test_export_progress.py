"""Exports with progress (#30): the rows DuckDB writes are counted as it writes them, and the
file is the one the plain COPY writes; a callback can stop an export and nothing is left behind.

On a real DuckDB file from bench/synth_db.py (400 clips, 1024-d embeddings, frame curves for
a tenth of them: tens of thousands of frame rows, so many vectors of 2048 rows each).
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from core.errors import Cancelled
from core.store import export
from core.store.database import Store

KEYS = {"clips": ["clip_id", "track"], "frames": ["clip_id", "track", "frame"],
        "embeddings": ["clip_id", "track"]}  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> tuple[Store, str]:
    import synth_db

    db = tmp_path_factory.mktemp("synth-export") / "synth.duckdb"
    synth_db.build(db, synth_db.SynthSpec(clips=400, seed=5, batch=200, curve_share=0.1))
    return Store(db), synth_db.MODEL_KEY


def csv_rows(content: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV as the exact text of each cell, rows in a canonical order (the
    COPY writes its chunks in the order its threads finish them, with or without progress)."""
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    return header, sorted(rows)


def parquet_rows(path: Path, what: str):
    table = pq.read_table(path)
    return table.schema, table.sort_by([(k, "ascending") for k in KEYS[what]]).to_pylist()


@pytest.mark.parametrize("what", ["clips", "frames", "embeddings"])
@pytest.mark.parametrize("fmt", ["csv", "parquet", "excel"])
def test_a_counted_export_writes_the_same_file_as_the_plain_copy(synth, what, fmt):
    """The plain path is today's COPY statement (no progress asked); the counted one must write
    the same columns in the same order with the same values, the byte-order mark included."""
    store, key = synth
    written, bom = ("csv", True) if fmt == "excel" else (fmt, False)
    calls: list[tuple[int, int]] = []
    plain = export.export_to_temp(store, what, written, key, bom=bom)
    counted = export.export_to_temp(store, what, written, key, bom=bom,
                                    progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    try:
        assert counted.rows == plain.rows == export.count_rows(store, key)[what] > 0
        if written == "csv":
            old, new = plain.path.read_bytes(), counted.path.read_bytes()
            assert new.startswith(export.UTF8_BOM) == bom == old.startswith(export.UTF8_BOM)
            strip = len(export.UTF8_BOM) if bom else 0
            assert new.splitlines()[0] == old.splitlines()[0]  # the header, byte for byte
            assert csv_rows(new[strip:]) == csv_rows(old[strip:])
            assert len(new) == len(old)
        else:
            assert parquet_rows(counted.path, what) == parquet_rows(plain.path, what)
    finally:
        export.remove_temp(plain.path)
        export.remove_temp(counted.path)
    total = counted.rows
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    done = [d for d, _ in calls]
    assert done == sorted(done) and all(t == total for _, t in calls)
    # one report per vector DuckDB writes (2048 rows), then the final count
    assert len(calls) >= 2 + (total - 1) // 2048


def test_a_callback_that_raises_stops_the_export_and_leaves_nothing(synth):
    store, key = synth
    before = set(Path(tempfile.gettempdir()).glob(f"{export.TEMP_PREFIX}*"))
    seen: list[int] = []

    def stop_after_first_rows(done: int, total: int) -> None:
        seen.append(done)
        if done > 0:
            raise Cancelled("The export was cancelled.")

    with pytest.raises(Cancelled, match="cancelled"):
        export.export_to_temp(store, "frames", "csv", key, progress=stop_after_first_rows)
    total = export.count_rows(store, key)["frames"]
    assert seen[0] == 0 and 0 < max(seen) < total  # stopped after the first vector of rows
    assert set(Path(tempfile.gettempdir()).glob(f"{export.TEMP_PREFIX}*")) == before


def test_a_stopped_export_to_a_named_file_removes_it(synth, tmp_path):
    store, key = synth
    out = tmp_path / "clips.parquet"

    def refuse(done: int, total: int) -> None:
        if done:
            raise Cancelled("The export was cancelled.")

    with pytest.raises(Cancelled):
        export.export(store, "clips", "parquet", out, key, progress=refuse)
    assert not out.exists()


def test_a_known_row_count_is_not_counted_again(synth, tmp_path):
    """The Exports page passes the rows it counted for its button; the final report is exact."""
    store, key = synth
    calls: list[tuple[int, int]] = []
    rows = export.export(store, "clips", "csv", tmp_path / "clips.csv", key,
                         progress=lambda done, total: calls.append((done, total)), expected=999)  # fmt: skip
    assert calls[0] == (0, 999) and calls[-2][1] == 999 and calls[-1] == (rows, rows)


def test_stale_temporary_exports_are_removed(tmp_path, monkeypatch):
    """A killed server's files go with the next export: those of a process that no longer runs,
    and any older than a day; a running server's stay, and nothing else is touched."""
    import subprocess

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    folders = {
        "running": tmp_path / f"{export.TEMP_PREFIX}{os.getpid()}-abc",
        "ended": tmp_path / f"{export.TEMP_PREFIX}{ended.pid}-abc",
        "old": tmp_path / f"{export.TEMP_PREFIX}{os.getpid()}-old",
        "unnamed": tmp_path / f"{export.TEMP_PREFIX}xyz",  # named before the process id was
        "other": tmp_path / "someone-else",
    }
    for folder in folders.values():
        folder.mkdir()
        (folder / "emoscope-clips.csv").write_text("corpus\n")
    day_ago = time.time() - export.STALE_AFTER_S - 60
    for name in ("old", "other"):
        os.utime(folders[name], (day_ago, day_ago))
    assert export.remove_stale_temp() == 2
    assert {name for name, folder in folders.items() if folder.exists()} == {
        "running", "unnamed", "other"}  # fmt: skip
    export.remove_temp(folders["running"] / "emoscope-clips.csv")
    assert not folders["running"].exists()
    export.remove_temp(folders["other"] / "emoscope-clips.csv")  # only an export's own folder
    assert folders["other"].exists()
