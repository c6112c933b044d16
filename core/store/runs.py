"""Ingest runs whose process died: told apart from live ones by pid and host.

A process killed outright (SIGKILL, OOM killer, power loss) never records how its run ended, so
its row would say 'running' forever. Every run records its pid and host; the next run on the
same host marks those whose process is gone as 'interrupted'. Runs of other hosts (a database
on a shared disk) cannot be checked from here and are left as they are.
"""

from __future__ import annotations

import getpass
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
    rows = con.execute(
        "SELECT run_id, pid FROM ingest_runs WHERE status = 'running' AND host = ?"
        " AND pid IS NOT NULL",
        [socket.gethostname()],
    ).fetchall()
    dead = [run_id for run_id, pid in rows if pid != os.getpid() and not process_exists(pid)]
    if dead:
        con.execute(
            "UPDATE ingest_runs SET status = 'interrupted'"
            " WHERE run_id IN (SELECT unnest(?::INTEGER[]))",
            [dead],
        )
    return dead


def run_user(user_name: str | None) -> str:
    """Who an ingest run is recorded for: the signed-in user, else `cli:<os user>`."""
    if user_name:
        return user_name
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli:unknown"
