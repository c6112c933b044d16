"""Queries of the api_tokens table (personal API tokens); the rules are in core.access.tokens.

Only the SHA-256 of a token is stored, with a short prefix that lets its owner tell tokens apart.
Token writes leave results as they were (`changes_results=False`) and take the caller's audit
row in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

_COLUMNS = "token_id, owner, name, prefix, created_at, expires_at, revoked_at, revoked_by"


def insert(con, owner: str, name: str, token_hash: str, prefix: str, expires_at: datetime) -> int:
    """Store a new token on an open write connection; its id."""
    return con.execute(
        "INSERT INTO api_tokens (owner, name, token_hash, prefix, expires_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING token_id",
        [owner, name, token_hash, prefix, expires_at],
    ).fetchall()[0][0]


def by_hash(store, token_hash: str) -> dict | None:
    """The token row with this hash (revoked or expired ones too), else None."""
    with store.reading() as con:
        frame = con.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE token_hash = ?", [token_hash]
        ).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def by_id(con, token_id: int) -> dict | None:
    """One token's row on an open connection, else None."""
    frame = con.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_id = ?", [token_id]).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def listed(store, owner: str | None = None) -> pd.DataFrame:
    """Tokens, newest first: one owner's, or everyone's with `owner=None`."""
    with store.reading() as con:
        return con.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE ? IS NULL OR owner = ?"
            " ORDER BY token_id DESC",
            [owner, owner],
        ).df()


def revoke(con, token_id: int, by: str) -> None:
    """Mark a token revoked on an open write connection (idempotent: the first revocation stays)."""
    con.execute(
        "UPDATE api_tokens SET revoked_at = CAST(now() AS TIMESTAMP), revoked_by = ?"
        " WHERE token_id = ? AND revoked_at IS NULL",
        [by, token_id],
    )
