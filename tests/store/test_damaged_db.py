"""A damaged database file is refused before anything is written, `info` finds damage in any block,
and the dashboard says so in one line (issue #14 item 5). Damage is made by overwriting blocks in
the middle of a real DuckDB file, as a failing disk or a bad copy does.

Since issue #29 the write path checks headers and length only (and the scrub's record): damage in
the middle of the file is found by the scrub (`python -m core check`), and until then by DuckDB
whenever a query reads the damaged block. The tests below show that such damage can do no harm
before the scrub finds it, and that every write after the scrub is refused."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.access.principal import Principal, Role
from core.access.roles import set_role
from core.errors import StoreError
from core.store.batches import write_batch
from core.store.check import FIRST_BLOCK_AT, damaged_blocks, full_check, quick_check
from core.store.check_record import last_check, record_path
from core.store.database import ClipRecord, FileOutcome, ScoredTrack, Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import register_model
from core.store.scrub import run_check
from tests.core_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
KEY = "m@1"


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory) -> Path:
    """A real database of 300 clips with frame curves: about 30 blocks of 256 KiB."""
    path = tmp_path_factory.mktemp("damage") / "clean.duckdb"
    store = Store(path)
    register_model(store, KEY, "m", "1", 16, untrained=True)
    run = start_run(store, "calls", KEY, 300)
    rng = np.random.default_rng(0)
    clips = [ClipRecord(f"id{i:03}", f"c{i}.wav", None, 10.0, 16_000, 1, "pcm_s16le", 100,
                        agent=f"a{i % 3}") for i in range(300)]  # fmt: skip
    tracks = [ScoredTrack(f"id{i:03}", "mix", rng.dirichlet(np.ones(9)).astype(np.float32),
                          rng.standard_normal(16).astype(np.float32),
                          rng.standard_normal((500, 9)).astype(np.float32)) for i in range(300)]  # fmt: skip
    outcomes = [FileOutcome(f"c{i}.wav", "scored", f"id{i:03}", 10.0) for i in range(300)]
    write_batch(store, run, "calls", KEY, 16, clips, tracks, outcomes)
    finish_run(store, run)
    return path


def blocks_of(path: Path, table: str) -> list[int]:
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(
        "SELECT DISTINCT block_id FROM pragma_storage_info(?) WHERE block_id >= 0 ORDER BY 1",
        [table],
    ).fetchall()
    con.close()
    return [r[0] for r in rows]


def table_names(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    con.close()
    return names


def overwrite_block(path: Path, block: int, n_bytes: int = 4096) -> None:
    """Random bytes in the middle of one block: its stored checksum no longer matches."""
    with path.open("r+b") as f:
        f.seek(FIRST_BLOCK_AT + block * 256 * 1024 + 100_000)
        f.write(np.random.default_rng(block).bytes(n_bytes))


def damaged_copy(clean: Path, folder: Path, table: str = "frame_curves") -> tuple[Path, int]:
    copy = folder / "team.duckdb"
    shutil.copy(clean, copy)
    blocks = blocks_of(copy, table)
    block = blocks[len(blocks) // 2]
    overwrite_block(copy, block)
    return copy, block


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_clean_database_passes_both_checks(clean_db):
    blocks, bad = damaged_blocks(clean_db)
    assert blocks >= 20 and bad == []
    quick_check(clean_db)
    assert full_check(clean_db) == []


def refusal(path: Path, block: int) -> str:
    """The one line a write into a file the scrub found damaged ends with."""
    checked_at = last_check(path).checked_at[:19]
    return (f"{path} is damaged: the full check at {checked_at} found 1 block(s) fail their "
            f"checksum (block {block}); nothing was written. Restore it from a backup, or move "
            "it aside to start a new database; `python -m core check` clears this once the "
            "file is whole.")  # fmt: skip


def test_a_write_to_a_damaged_file_is_refused_and_nothing_is_written(clean_db, tmp_path):
    copy, block = damaged_copy(clean_db, tmp_path)
    record = run_check(copy)  # the scrub (cron, the Admin page, `python -m core check`)
    assert not record.ok and record.bad_blocks == (block,)
    before = digest(copy)
    with pytest.raises(StoreError) as refused:
        start_run(Store(copy), "calls", KEY, 1)
    assert str(refused.value) == refusal(copy, block)
    assert digest(copy) == before and not Path(f"{copy}.wal").exists()


def test_damage_elsewhere_does_no_harm_before_the_scrub_finds_it(clean_db, tmp_path):
    """The write path no longer reads every block (#29). A write that does not read the damaged
    block succeeds and leaves it as it was (DuckDB never rewrites a block in use); any query that
    reads it, a write's included, fails on DuckDB's checksum with nothing committed; the scrub
    then finds it and every later write is refused, until a check passes again."""
    copy, block = damaged_copy(clean_db, tmp_path)
    at = FIRST_BLOCK_AT + block * 256 * 1024
    damaged = copy.read_bytes()[at : at + 256 * 1024]
    store = Store(copy)
    admin = Principal("cli:root", Role.ADMIN)
    set_role(store, admin, "ana@team.test", Role.VIEWER)  # roles: no frame curve read
    assert copy.read_bytes()[at : at + 256 * 1024] == damaged  # not made worse
    with store.reading() as con:
        before = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    corrupt = pytest.raises(duckdb.Error, match="Corrupt database file")
    with corrupt, store.writing() as con:  # a write that reads the damaged block
        con.execute("INSERT INTO audit_log (user_name, action, detail) VALUES ('x', 'export', 'y')")
        con.execute("DELETE FROM frame_curves WHERE list_sum(logits) IS NOT NULL")
    with store.reading() as con:
        assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before
        with pytest.raises(duckdb.Error, match="Corrupt database file"):
            con.execute("SELECT sum(list_sum(logits)) FROM frame_curves").fetchall()
    assert run_check(copy).bad_blocks == (block,)  # the scrub finds it
    with pytest.raises(StoreError) as refused:
        set_role(store, admin, "bo@team.test", Role.VIEWER)
    assert str(refused.value) == refusal(copy, block)
    shutil.copy(clean_db, copy)  # restored from a backup over the same file: still refused …
    with pytest.raises(StoreError):
        store.check_writable()
    assert run_check(copy).ok  # … until the check after the restore passes
    set_role(store, admin, "bo@team.test", Role.VIEWER)


def test_damage_no_query_reads_is_still_found(clean_db, tmp_path):
    # A block that holds no table data (an index or the catalogue): a scan of every column does
    # not read it, so only the checksum pass over every block finds it.
    copy = tmp_path / "team.duckdb"
    shutil.copy(clean_db, copy)
    # Every table of the schema, read from the catalogue so that a table a later schema adds
    # (track_day_rollup in 11) is never mistaken for a block no query reads.
    data_blocks = {b for t in table_names(copy) for b in blocks_of(copy, t)}
    blocks, _ = damaged_blocks(copy)
    other = max(set(range(1, blocks)) - data_blocks)
    overwrite_block(copy, other)
    con = duckdb.connect(str(copy), read_only=True)
    from core.store.check import scan_every_column

    assert scan_every_column(con) == []  # DuckDB alone would call this file fine
    con.close()
    assert full_check(copy) == [f"1 of {blocks} blocks fail their checksum: [{other}]"]


def test_a_file_cut_short_and_a_damaged_header(clean_db, tmp_path):
    cut = tmp_path / "cut.duckdb"
    data = clean_db.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        StoreError,
        match=r"cut\.duckdb is damaged: it is cut short \(it ends \d+ bytes into a block\)",
    ):
        quick_check(cut)
    header = tmp_path / "header.duckdb"
    header.write_bytes(data[:100] + bytes(50) + data[150:])
    with pytest.raises(StoreError, match=r"header\.duckdb is damaged: its main header fails"):
        quick_check(header)
    text = tmp_path / "notes.duckdb"
    text.write_text("not a database")
    with pytest.raises(StoreError, match=r"notes\.duckdb is not a DuckDB database file"):
        quick_check(text)


def cli(*args: str):
    return run_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, cwd=ROOT)


def test_check_and_info_full_read_every_block_and_fail_on_damage(clean_db, tmp_path):
    copy, block = damaged_copy(clean_db, tmp_path)
    before = digest(copy)
    for command in ("check", "info --full", "check"):
        result = cli(*command.split(), "--db", str(copy))
        assert result.returncode == 1, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == f"database: {copy}"
        assert lines[1].startswith("last full check: DAMAGED (2 problem(s)): ")
        assert lines[2] == "integrity: DAMAGED"
        assert lines[3].startswith("  1 of ") and lines[3].endswith(
            f"blocks fail their checksum: [{block}]"
        )
        assert lines[4].startswith("  table frame_curves: Corrupt database file: computed checksum")
        assert lines[5] == (
            "  what to do: restore it from a backup, or move it aside to start a new database. "
            "Writes to it are refused until then; `python -m core check` clears this once the "
            "file is whole."
        )
        assert "check [" in result.stderr and "blocks" in result.stderr  # progress
    assert digest(copy) == before  # nothing migrated into the damaged file
    plain = cli("info", "--db", str(copy))  # reads the record, not the file
    assert plain.returncode == 1
    assert plain.stdout.splitlines()[2:] == lines[2:]
    assert lines[1].startswith(plain.stdout.splitlines()[1])
    write = cli("roles", "set", "ana@team.test", "viewer", "--db", str(copy))
    assert write.returncode == 2 and write.stderr.splitlines() == [f"error: {refusal(copy, block)}"]
    assert digest(copy) == before
    assert cli("check", "--db", str(clean_db)).returncode == 0
    assert cli("info", "--db", str(clean_db)).returncode == 0
    record_path(clean_db).unlink()


def test_ingest_into_a_damaged_file_stops_before_the_model_loads(clean_db, tmp_path):
    copy, block = damaged_copy(clean_db, tmp_path)
    assert cli("check", "--db", str(copy)).returncode == 1
    before = digest(copy)
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    result = cli("ingest", str(tmp_path / "a.wav"), "--corpus", "calls", "--db", str(copy),
                 "--model", str(tmp_path / "no-model-here"))  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {refusal(copy, block)}"]
    assert digest(copy) == before


def open_app(db: Path, monkeypatch, page: str) -> AppTest:
    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(f"../pages/{page}.py")
    at.run()
    return at


def test_reading_does_not_pay_for_checking_every_block(clean_db, tmp_path, monkeypatch):
    """Pages read without the whole-file check (3 s on an 11 GB database at every start): DuckDB
    verifies each block it reads (next test), and writes check every block first (above)."""
    import core.store.database

    def no_full_check(path):
        raise AssertionError("a read ran the whole-file check")

    monkeypatch.setattr(core.store.database, "quick_check", no_full_check)
    copy, _ = damaged_copy(clean_db, tmp_path)  # damage in frame curves, which Clips never reads
    at = open_app(copy, monkeypatch, "clips")
    assert not at.exception and not at.error
    assert len(at.dataframe[0].value) > 0


def test_damage_met_while_reading_shows_one_line(clean_db, tmp_path, monkeypatch):
    copy = tmp_path / "team.duckdb"
    shutil.copy(clean_db, copy)
    at = open_app(copy, monkeypatch, "frames")  # the store is opened and checked while clean
    assert not at.exception and not at.error
    for block in blocks_of(copy, "frame_curves"):  # then the disk fails under the running app
        overwrite_block(copy, block)
    os.utime(copy)  # a new file version: cached reads are not reused
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    line = at.error[0].value
    assert line.startswith("Database team.duckdb is damaged (Corrupt database file: computed")
    assert line.endswith("; restore it from a backup, or move it aside to start a new database; "
                         "`python -m core check` shows what is damaged.")  # fmt: skip
    assert str(tmp_path) not in line


def test_healthy_files_in_many_shapes_pass(tmp_path):
    # Tables replaced, dropped, thinned and grown, with and without checkpoints: DuckDB leaves
    # free blocks inside and truncates them off the end; none of that is damage.
    import random

    chooser = random.Random(3)
    path = tmp_path / "shapes.duckdb"
    for _ in range(60):
        con = duckdb.connect(str(path))
        table = f"t{chooser.randint(0, 3)}"
        rows = chooser.randint(1, 200_000)
        action = chooser.choice(["create", "drop", "delete", "insert"])
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()[0]
        if action == "create" or not exists:
            con.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT random() AS r FROM range({rows})"
            )
        elif action == "drop":
            con.execute(f"DROP TABLE {table}")
        elif action == "delete":
            con.execute(f"DELETE FROM {table} WHERE r < 0.5")
        else:
            con.execute(f"INSERT INTO {table} SELECT random() FROM range({rows})")
        if chooser.random() < 0.5:
            con.execute("CHECKPOINT")
        con.close()
        quick_check(path)
    assert damaged_blocks(path)[1] == []


DATA_TABLES = ("clips", "frame_curves", "predictions", "embeddings_d16", "ingest_files",
               "ingest_runs", "corpora", "models")  # fmt: skip


@pytest.mark.parametrize("page", ["overview", "clips", "frames", "clusters", "trends", "exports",
                                  "model_check", "admin"])  # fmt: skip
def test_every_page_meets_damage_in_one_line(clean_db, tmp_path, monkeypatch, page):
    """The issue's words: every page shows a one-line error naming the file and what to do, and
    no traceback. Every table's blocks are damaged, so whatever a page reads first meets it.
    (Upload reads nothing until Analyse is clicked: the next test.)"""
    copy = tmp_path / "team.duckdb"
    shutil.copy(clean_db, copy)
    at = open_app(copy, monkeypatch, page)  # opened and checked while clean
    assert not at.exception and not at.error
    for table in DATA_TABLES:  # then the disk fails under the running app
        for block in blocks_of(copy, table):
            overwrite_block(copy, block)
    os.utime(copy)  # a new file version: cached reads are not reused
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value.split(" (")[0] for e in at.error] == ["Database team.duckdb is damaged"]
    line = at.error[0].value
    assert line.endswith("; restore it from a backup, or move it aside to start a new database; "
                         "`python -m core check` shows what is damaged.")  # fmt: skip
    assert "\n" not in line and str(tmp_path) not in line


def test_analysing_into_a_damaged_file_is_refused_in_one_line_before_the_model_loads(
    clean_db, tmp_path, monkeypatch
):
    """The Upload page reads nothing from the database; Analyse writes to it. The analysis job
    checks the file before anything else: one line naming the file (not its folder), and the
    model is never loaded (a hub model would otherwise be downloaded only to fail at the first
    write). The check runs in the job, not the click: on an 11 GB file it takes seconds."""
    import io

    import soundfile as sf

    from core.jobs import JOBS
    from dashboard import resources

    copy, block = damaged_copy(clean_db, tmp_path)
    run_check(copy)  # the scrub found it (a write reads 12 KiB, not the file: issue #29)
    at = open_app(copy, monkeypatch, "upload")
    assert not at.exception and not at.error
    before = set(JOBS._jobs)
    wav = io.BytesIO()
    sf.write(wav, np.zeros(16_000, np.float32), 16_000, format="WAV")
    at.file_uploader[0].set_value(("call.wav", wav.getvalue(), "audio/wav"))
    next(s for s in at.selectbox if s.label == "Model").set_value(resources.TEST_MODEL).run()
    loaded = []
    monkeypatch.setattr(resources, "engine", lambda *a, **k: loaded.append(a))
    next(b for b in at.button if b.label == "Analyse").click().run()
    shown = [e.value for e in at.error]  # the check is quick now: the job may have ended already
    (key,) = set(JOBS._jobs) - before
    state = JOBS.get(key).wait(60)
    assert state.finished and state.result is None and loaded == []  # no model was loaded
    at.run()
    JOBS.forget(key)  # the registry is process-wide: other tests must not meet this failed job
    assert not at.exception, [e.value for e in at.exception]
    shown += [e.value for e in at.error]
    assert shown == [refusal(copy, block).replace(f"{copy}", copy.name)]


def test_the_admin_page_runs_a_check_in_the_background_and_shows_its_result(
    clean_db, tmp_path, monkeypatch
):
    from core.jobs import JOBS

    copy = tmp_path / "team.duckdb"
    shutil.copy(clean_db, copy)
    at = open_app(copy, monkeypatch, "admin")  # open mode: everyone is an admin
    assert not at.exception
    assert "No full check of this database file yet." in [i.value for i in at.info]
    next(b for b in at.button if b.label == "Check the database now").click().run()
    assert JOBS.get("database-check").wait(120).result.ok
    at.run()
    JOBS.forget("database-check")
    assert not at.exception
    (line,) = [s.value for s in at.success if s.value.startswith("Last full check")]
    assert line.startswith("Last full check: ok: ") and "blocks checked at" in line
    overwrite_block(copy, blocks_of(copy, "frame_curves")[0])  # then the scrub finds damage
    run_check(copy)
    at.run()
    (line,) = [e.value for e in at.error]
    assert line.startswith("Last full check: DAMAGED") and "writes are refused" in line
    assert str(tmp_path) not in line
