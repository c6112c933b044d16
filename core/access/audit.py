"""The audit log: who uploaded, ran, exported, deleted or changed roles, and when.

Rows are only ever appended. An action that changes data writes its audit row in the same
transaction as the change (`record_in`), so the log can never claim a deletion that was rolled
back, nor miss one that happened.
"""

from __future__ import annotations

import pandas as pd

from core.errors import InputError
from core.store import audit_log

# Every action the log knows; anything else is a bug in the caller.
AUDIT_ACTIONS = (
    "upload", "ingest", "projection", "export", "delete_corpus", "set_role", "remove_role",
    "create_token", "revoke_token",
)  # fmt: skip
MAX_DETAIL_CHARS = 2000  # a 10,000-file upload's names would otherwise fill the table


def record_in(con, user_name: str, action: str, detail: str = "") -> None:
    """Append one audit row on an open write connection (inside the caller's transaction)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    text = detail if len(detail) <= MAX_DETAIL_CHARS else detail[: MAX_DETAIL_CHARS - 1] + "…"
    audit_log.insert_row(con, user_name, action, text)


def record(store, user_name: str, action: str, detail: str = "") -> None:
    """Append one audit row in its own transaction."""
    with store.writing(changes_results=False) as con:
        record_in(con, user_name, action, detail)


def read(store, limit: int = 200, action: str | None = None) -> pd.DataFrame:
    """The newest `limit` rows (newest first), optionally of one action."""
    if limit < 1:
        raise InputError(f"--limit {limit}: give at least 1.")
    if action is not None and action not in AUDIT_ACTIONS:
        raise InputError(f"unknown audit action {action!r}: one of {', '.join(AUDIT_ACTIONS)}.")
    return audit_log.newest_rows(store, limit, action)


def describe_files(names: list[str], shown: int = 5) -> str:
    """'3 files: a.wav, b.wav, c.wav' — at most `shown` names, then how many more."""
    listed = ", ".join(names[:shown]) + (
        f" and {len(names) - shown} more" if len(names) > shown else ""
    )
    return f"{len(names)} file{'s' if len(names) != 1 else ''}: {listed}"


def describe_filter(where) -> str:
    """A ClipFilter in words for the log: only the fields that narrow the selection."""
    from dataclasses import fields

    chosen = [f"{f.name}={getattr(where, f.name)!r}" for f in fields(where)
              if getattr(where, f.name) != f.default]  # fmt: skip
    return "filter: " + (", ".join(chosen) if chosen else "none")
