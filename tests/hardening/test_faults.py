"""Crash safety and concurrency with real processes: SIGKILL mid-ingest, two ingests at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.ingest.pipeline import BATCH_FILES
from core.store.clips import select_clips
from core.store.corpora import list_corpora
from core.store.database import Store
from core.store.ingest_runs import list_runs
from core.store.integrity import integrity_report
from core.store.models import list_models


def write_clips(folder: Path, count: int, seed: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        sf.write(
            folder / f"clip{i:04d}.wav",
            (0.1 * rng.standard_normal(16_000)).astype(np.float32),
            16_000,
        )
    return folder


def ingest_process(paths, corpus: str, db: Path, model: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "ingest", *map(str, paths), "--corpus", corpus,
         "--model", str(model), "--db", str(db), "--frames", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "EMOSCOPE_THREADS": "1"},
    )  # fmt: skip


def clip_count(store: Store, model_key: str | None) -> int:
    models = list_models(store)
    if models.empty:
        return 0
    return len(select_clips(store, model_key or models.model_key[0]))


def test_sigkill_mid_ingest_keeps_complete_clips_and_a_rerun_finishes(tmp_path, tiny_model_dir):
    total = 2 * BATCH_FILES + BATCH_FILES // 2  # 1 s clips: batches close on the file count
    audio = write_clips(tmp_path / "audio", total, seed=1)
    db = tmp_path / "crash.duckdb"
    store = Store(db, busy_timeout_s=60)
    process = ingest_process([audio], "c", db, tiny_model_dir)
    deadline = time.monotonic() + 300
    while clip_count(store, None) == 0:  # wait for the first committed batch
        assert process.poll() is None, (
            "ingest finished before it could be killed: " + process.stderr.read()
        )
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = clip_count(store, None)
    assert 0 < kept < total
    assert kept % BATCH_FILES == 0  # whole batches only
    assert set(integrity_report(store).values()) == {0}
    assert list_runs(store).status.iloc[0] == "running"  # the killed run never finished

    rerun = ingest_process([audio], "c", db, tiny_model_dir)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary == {
        "scored": total - kept,
        "cached": kept,
        "failed": 0,
        "seconds_audio": float(total),
    }
    assert clip_count(store, None) == total
    assert set(integrity_report(store).values()) == {0}


@pytest.mark.parametrize("same_corpus", [False, True])
def test_two_ingests_at_once_both_succeed(tmp_path, tiny_model_dir, same_corpus):
    first = write_clips(tmp_path / "a", 70, seed=2)
    second = write_clips(tmp_path / "b", 70, seed=3)
    db = tmp_path / "shared.duckdb"
    names = ("one", "one") if same_corpus else ("one", "two")
    processes = [ingest_process([first], names[0], db, tiny_model_dir),
                 ingest_process([second], names[1], db, tiny_model_dir)]  # fmt: skip
    reader = Store(db, busy_timeout_s=60)
    reads = 0
    while any(p.poll() is None for p in processes):
        list_corpora(reader)  # a dashboard-like reader keeps working during both writes
        reads += 1
        time.sleep(0.1)
    for process in processes:
        out, err = process.communicate()
        assert process.returncode == 0, err
        assert "Traceback" not in err
        assert json.loads(out.strip().splitlines()[-1])["scored"] == 70
    assert reads > 0
    assert clip_count(reader, None) == 140
    assert set(integrity_report(reader).values()) == {0}
