"""Runs whose process was killed are marked 'interrupted' by the next run (#14 item 10)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import duckdb

from core.store.database import Store
from core.store.ingest_runs import finish_run, list_runs, start_run
from tests.store.older import database_at

ROOT = Path(__file__).resolve().parents[2]
# A process that opens a run the way an ingest does, says its id, then waits to be killed.
OPEN_A_RUN = (
    "import sys, time; from core.store.database import Store;"
    "from core.store.ingest_runs import start_run; from core.store.models import register_model;"
    "s = Store(sys.argv[1]); register_model(s, 'm@1', 'm', '1', 4, untrained=True);"
    "print(start_run(s, 'calls', 'm@1', 5), flush=True); time.sleep(600)"
)


def open_run_in_a_process(db: Path) -> tuple[subprocess.Popen, int]:
    child = subprocess.Popen(
        [sys.executable, "-c", OPEN_A_RUN, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    return child, int(child.stdout.readline())


def statuses(db: Path) -> dict[int, str]:
    runs = list_runs(Store(db))
    return dict(zip(runs.run_id, runs.status, strict=True))


def test_a_killed_run_is_marked_interrupted_and_a_live_one_is_not(tmp_path):
    db = tmp_path / "runs.duckdb"
    killed, killed_run = open_run_in_a_process(db)
    alive, alive_run = open_run_in_a_process(db)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert statuses(db) == {killed_run: "running", alive_run: "running"}  # nobody looked yet
        store = Store(db)
        new_run = start_run(store, "calls", "m@1", 1)
        assert statuses(db) == {killed_run: "interrupted", alive_run: "running", new_run: "running"}
        finish_run(store, new_run)
        assert statuses(db)[new_run] == "done"
    finally:
        alive.kill()
        alive.wait()
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT run_id, pid, host FROM ingest_runs ORDER BY run_id").fetchall()
    con.close()
    assert rows == [
        (killed_run, killed.pid, socket.gethostname()),
        (alive_run, alive.pid, socket.gethostname()),
        (new_run, os.getpid(), socket.gethostname()),
    ]


def test_runs_of_other_hosts_and_from_before_pids_are_left_alone(tmp_path):
    db = tmp_path / "old.duckdb"
    con = database_at(db, 3)  # a database from before pids were recorded, with a stuck run
    con.execute("INSERT INTO corpora (name) VALUES ('calls')")
    con.execute("INSERT INTO ingest_runs (corpus_id, model_key, n_files) VALUES (1, 'm@1', 3)")
    con.close()
    store = Store(db)
    store.initialise()  # migrates to version 4: pid and host are NULL for the old run
    con = duckdb.connect(str(db))
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    con.execute(
        "INSERT INTO ingest_runs (corpus_id, model_key, n_files, pid, host)"
        " VALUES (1, 'm@1', 3, ?, 'another-host')",
        [int(dead_pid)],
    )
    con.close()
    new_run = start_run(store, "calls", "m@1", 1)
    assert statuses(db) == {1: "running", 2: "running", new_run: "running"}
