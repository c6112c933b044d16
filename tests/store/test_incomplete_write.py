"""A write cut off by a full disk is an incomplete write, not damage (issue #31 item 3).

A failed checkpoint leaves a partial block past every block the database header counts: nothing
refers to it, and DuckDB opens the file and replays its log. `info` reports "incomplete write,
recovered", the next write drops the torn tail, and a file that ends inside the blocks its header
counts (a copy cut short) is still refused as damaged (#14)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.errors import StoreError
from core.store.batches import write_batch
from core.store.check import FIRST_BLOCK_AT, quick_check, shape
from core.store.database import ClipRecord, FileOutcome, ScoredTrack, Store
from core.store.ingest_runs import start_run
from core.store.models import register_model
from tests.core_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
KEY = "m@1"


def write_batches(store: Store, batches: int, first: int = 0) -> int:
    """Ingest-shaped batches of 50 clips with frame curves (the ingest's own write path); the
    number of clips committed before the first failure (a full disk)."""
    rng = np.random.default_rng(first)
    run = start_run(store, "calls", KEY, batches * 50)
    done = 0
    for b in range(first, first + batches):
        ids = [f"id{b}_{i}" for i in range(50)]
        clips = [ClipRecord(c, f"{c}.wav", None, 10.0, 16_000, 1, "pcm_s16le", 100) for c in ids]
        tracks = [ScoredTrack(c, "mix", rng.dirichlet(np.ones(9)).astype(np.float32),
                              rng.standard_normal(16).astype(np.float32),
                              rng.standard_normal((500, 9)).astype(np.float32)) for c in ids]  # fmt: skip
        outcomes = [FileOutcome(f"{c}.wav", "scored", c, 10.0) for c in ids]
        try:
            write_batch(store, run, "calls", KEY, 16, clips, tracks, outcomes)
        except Exception as exc:  # what a full disk raises varies with the step it hits
            assert "No space left on device" in str(exc), exc
            return done
        done += 50
    return done


def cli(*args: str):
    return run_cli(*args, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, cwd=ROOT)


def clip_count(path: Path) -> int:
    with Store(path).reading() as con:
        return con.execute("SELECT count(*) FROM clips").fetchone()[0]


@pytest.fixture
def small_disk(tmp_path):
    """A 10 MiB tmpfs: an ingest of a few hundred clips with frame curves fills it. Skips
    without the privilege to mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10m", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_during_an_ingest_is_an_incomplete_write_not_damage(small_disk):
    db = small_disk / "team.duckdb"
    ballast = small_disk / "ballast"  # other files on the disk, which the operator later removes
    ballast.write_bytes(bytes(5 * 1024 * 1024))
    store = Store(db)
    register_model(store, KEY, "m", "1", 16, untrained=True)
    committed = write_batches(store, 40)
    assert 0 < committed < 40 * 50  # the disk filled half-way through the ingest
    torn = shape(db)
    assert torn.partial and torn.torn_tail  # ends inside a block, past the header's blocks
    still_full = cli("info", "--db", str(db))  # says how, and does not call it damaged
    assert still_full.returncode == 1 and "DAMAGED" not in still_full.stdout
    assert "incomplete write, not recovered yet" in still_full.stdout
    assert "free disk space, then run `python -m core check`" in still_full.stdout
    ballast.unlink()  # space freed, then the operator asks again
    info = cli("info", "--db", str(db))
    assert info.returncode == 0, info.stdout + info.stderr
    assert "DAMAGED" not in info.stdout
    assert "integrity: incomplete write, recovered" in info.stdout
    assert f"corpus calls: {committed} clips" in info.stdout
    assert shape(db).partial == 0  # whole again
    assert cli("check", "--db", str(db)).returncode == 0
    assert write_batches(Store(db), 1, first=100) == 50  # and it takes writes again
    assert clip_count(db) == committed + 50


def test_the_next_write_drops_a_torn_tail_and_a_cut_copy_is_still_refused(tmp_path):
    """Without privileges: a torn tail made by hand (half a block of junk past the last block,
    as a failed checkpoint leaves it) against the same file cut inside its blocks."""
    db = tmp_path / "team.duckdb"
    store = Store(db)
    register_model(store, KEY, "m", "1", 16, untrained=True)
    assert write_batches(store, 4) == 200
    whole = db.read_bytes()
    layout = shape(db)
    assert layout.present >= layout.block_count and layout.partial == 0
    torn = tmp_path / "torn.duckdb"
    torn.write_bytes(whole + os.urandom(layout.block_bytes // 2))
    quick_check(torn)  # not refused
    assert write_batches(Store(torn), 1, first=50) == 50  # the write drops the tail under its lock
    assert shape(torn).partial == 0 and clip_count(torn) == 250
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes(whole[: FIRST_BLOCK_AT + (layout.block_count - 1) * layout.block_bytes + 100])
    with pytest.raises(StoreError, match=r"cut\.duckdb is damaged: it is cut short"):
        start_run(Store(cut), "calls", KEY, 1)
    info = cli("info", "--db", str(cut))
    assert info.returncode == 1 and "cut short" in info.stdout
