"""Ingest runs whose process died: told apart from live ones by pid and host.

A process killed outright (SIGKILL, OOM killer, power loss) never records how its run ended, so
its row would say 'running' forever. Every run records its pid and host; the next run on the
same host marks those whose process is gone as 'interrupted'. Runs of other hosts (a database
on a shared disk) cannot be checked from here and are left as they are.
"""

from __future__ import annotations

import os
import socket


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
