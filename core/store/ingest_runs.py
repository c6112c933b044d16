"""Ingest runs: opening and closing them, their log of files, and runs whose process died.

Runs whose process died are told apart from live ones by pid and host. A process killed outright (SIGKILL, OOM killer, power loss) never records how its run ended, so
its row would say 'running' forever. Every run records its pid and host; the next run on the
same host marks those whose process is gone as 'interrupted'. Runs of other hosts (a database
on a shared disk) cannot be checked from here and are left as they are.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

import pandas as pd

from core.store import rollup
from core.store.corpora import find_corpus_id
from core.store.query import first_row, read_frame


def start_run(store, corpus: str, model_key: str, n_files: int,
              user_name: str | None = None) -> int:  # fmt: skip
    """Create the corpus if needed and open an ingest run for `user_name`; return its id.

    Runs left 'running' by a process of this host that no longer exists are marked
    'interrupted' first: a killed process never reaches finish_run.
    """
    with store.writing(changes_results=False) as con:
        mark_interrupted_runs(con)
        corpus_id = find_corpus_id(con, corpus, create=True)
        return first_row(
            con.execute(
                "INSERT INTO ingest_runs (corpus_id, model_key, n_files, pid, host, user_name)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING run_id",
                [
                    corpus_id,
                    model_key,
                    n_files,
                    os.getpid(),
                    socket.gethostname(),
                    run_user(user_name),
                ],
            )
        )[0]


def finish_run(store, run_id: int, status: str = "done") -> None:
    """Close a run with its final status ('done', 'interrupted' ...)."""
    with store.writing(changes_results=False) as con:
        con.execute(
            "UPDATE ingest_runs SET finished_at = current_timestamp, status = ? WHERE run_id = ?",
            [status, run_id],
        )
        release_claims(con, run_id)
        rollup.refresh(con)  # the run's rows are all in: the Overview sums days again


def list_runs(store, limit: int = 20) -> pd.DataFrame:
    """Recent ingest runs with their outcome counts."""
    return read_frame(
        store,
        "SELECT r.run_id, co.name AS corpus, r.model_key, r.started_at, r.finished_at,"
        " r.status, r.n_files,"
        " count(*) FILTER (WHERE f.status = 'scored') AS scored,"
        " count(*) FILTER (WHERE f.status = 'cached') AS cached,"
        " count(*) FILTER (WHERE f.status = 'failed') AS failed"
        " FROM ingest_runs r JOIN corpora co USING (corpus_id)"
        " LEFT JOIN ingest_files f USING (run_id)"
        " GROUP BY ALL ORDER BY r.run_id DESC LIMIT ?",
        [limit],
    )


def read_run_files(store, run_id: int) -> pd.DataFrame:
    """Per-file outcomes of one ingest run."""
    return read_frame(
        store,
        "SELECT source_name, status, clip_id, seconds_audio, message FROM ingest_files"
        " WHERE run_id = ? ORDER BY logged_at, source_name",
        [run_id],
    )


def run_status(store, run_id: int) -> str | None:
    """A run's status in ingest_runs ('running', 'done', 'interrupted'), None if unknown."""
    with store.reading() as con:
        row = con.execute("SELECT status FROM ingest_runs WHERE run_id = ?", [run_id]).fetchone()
    return row[0] if row else None


def logged(store, run_id: int, names: Sequence[str]) -> bool:
    """Whether run `run_id` already logged any of these files in ingest_files."""
    with store.reading() as con:
        row = con.execute(
            "SELECT count(*) FROM ingest_files WHERE run_id = ?"
            " AND source_name IN (SELECT unnest(?::VARCHAR[]))",
            [run_id, list(names)],
        ).fetchone()
    return bool(row and row[0])


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists on this host (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def mark_interrupted_runs(con) -> list[int]:
    """Mark this host's 'running' runs whose process is gone as 'interrupted'; return their ids.

    Runs from before pids were recorded (pid NULL) are left alone: nothing tells if they live.
    `finished_at` stays NULL: when the process died is not known.
    """
    from core.access.audit import record_in

    rows = con.execute(
        "SELECT r.run_id, r.pid, r.user_name, c.name FROM ingest_runs r"
        " JOIN corpora c USING (corpus_id) WHERE r.status = 'running' AND r.host = ?"
        " AND r.pid IS NOT NULL ORDER BY r.run_id",
        [socket.gethostname()],
    ).fetchall()
    dead = [row for row in rows if row[1] != os.getpid() and not process_exists(row[1])]
    if dead:
        con.execute(
            "UPDATE ingest_runs SET status = 'interrupted'"
            " WHERE run_id IN (SELECT unnest(?::INTEGER[]))",
            [[row[0] for row in dead]],
        )
    for run_id, pid, user, corpus in dead:  # a killed run never audited its own end
        record_in(con, user or "unknown", "ingest",
                  f"corpus {corpus!r}, run {run_id}: interrupted (process {pid} gone)")  # fmt: skip
    return [row[0] for row in dead]


def run_user(user_name: str | None) -> str:
    """Who an ingest run is recorded for: the signed-in user, else `cli:<os user>`."""
    from core.access.principal import os_account  # the passwd entry, never $USER

    return user_name or os_account()


def release_claims(con, run_id: int) -> None:
    """Drop a run's claims once it ends: what it stored is now cached, the rest is free."""
    con.execute("DELETE FROM score_claims WHERE run_id = ?", [run_id])
