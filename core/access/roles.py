"""Roles granted by admins (table user_roles); every change is audited in its own transaction.

Roles in secrets.toml (`admins`, `default_role`) come from whoever runs the server; roles here
come from admins on the Admin page, and a granted role also admits its email (an invitation).
"""

from __future__ import annotations

import pandas as pd

from core.access import audit
from core.access.principal import Principal, Role, normalise_email, require
from core.errors import InputError, PermissionDenied


def granted_role(store, email: str) -> Role | None:
    """The role an admin granted this email, None if none."""
    with store.reading() as con:
        row = con.execute(
            "SELECT role FROM user_roles WHERE email = ?", [normalise_email(email)]
        ).fetchone()
    return Role.parse(row[0]) if row else None


def list_roles(store) -> pd.DataFrame:
    """Every granted role: email, role, granted_by, granted_at (by email)."""
    with store.reading() as con:
        return con.execute(
            "SELECT email, role, granted_by, granted_at FROM user_roles ORDER BY email"
        ).df()


def _checked_target(principal: Principal, email: str) -> str:
    require(principal, "manage_roles")
    target = normalise_email(email)
    if "@" not in target or " " in target:
        raise InputError(f"{email!r} is not an email address.")
    if target == principal.email:
        # Demoting yourself by accident would leave the team without the admin it relies on.
        raise PermissionDenied("You cannot change your own role; ask another admin.")
    return target


def set_role(store, principal: Principal, email: str, role: Role) -> None:
    """Grant `role` to `email` (admins only), replacing any earlier grant; audited."""
    target = _checked_target(principal, email)
    with store.writing(changes_results=False) as con:
        con.execute(
            "INSERT INTO user_roles (email, role, granted_by) VALUES (?, ?, ?)"
            " ON CONFLICT (email) DO UPDATE SET role = excluded.role,"
            " granted_by = excluded.granted_by, granted_at = CAST(now() AS TIMESTAMP)",
            [target, role.label, principal.email],
        )
        audit.record_in(con, principal.email, "set_role", f"{target} -> {role.label}")


def remove_role(store, principal: Principal, email: str) -> bool:
    """Withdraw a granted role (admins only); False when there was none. Audited."""
    target = _checked_target(principal, email)
    with store.writing(changes_results=False) as con:
        gone = con.execute(
            "DELETE FROM user_roles WHERE email = ? RETURNING email", [target]
        ).fetchall()
        if gone:
            audit.record_in(con, principal.email, "remove_role", target)
    return bool(gone)
