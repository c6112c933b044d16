"""The table of roles granted by admins (the rules are core.access.roles')."""

from __future__ import annotations

import pandas as pd


def role_of(store, email: str) -> str | None:
    """The role label granted to a (normalised) email, None if none."""
    with store.reading() as con:
        row = con.execute("SELECT role FROM user_roles WHERE email = ?", [email]).fetchone()
    return row[0] if row else None


def all_roles(store) -> pd.DataFrame:
    """Every granted role: email, role, granted_by, granted_at (by email)."""
    with store.reading() as con:
        return con.execute(
            "SELECT email, role, granted_by, granted_at FROM user_roles ORDER BY email"
        ).df()


def upsert_role(con, email: str, role: str, granted_by: str) -> None:
    """Grant `role` to `email` inside the caller's transaction, replacing any earlier grant."""
    con.execute(
        "INSERT INTO user_roles (email, role, granted_by) VALUES (?, ?, ?)"
        " ON CONFLICT (email) DO UPDATE SET role = excluded.role,"
        " granted_by = excluded.granted_by, granted_at = CAST(now() AS TIMESTAMP)",
        [email, role, granted_by],
    )


def delete_role(con, email: str) -> bool:
    """Withdraw `email`'s role inside the caller's transaction; False when there was none."""
    return bool(
        con.execute("DELETE FROM user_roles WHERE email = ? RETURNING email", [email]).fetchall()
    )
