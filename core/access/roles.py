"""Roles granted by admins (table user_roles); every change is audited in its own transaction.

Roles in secrets.toml (`admins`, `default_role`) come from whoever runs the server; roles here
come from admins on the Admin page, and a granted role also admits its email (an invitation).
"""

from __future__ import annotations

import pandas as pd

from core.access import audit
from core.access.principal import Principal, Role, normalise_email, require
from core.errors import InputError, PermissionDenied
from core.store import user_roles


def granted_role(store, email: str) -> Role | None:
    """The role an admin granted this email, None if none."""
    label = user_roles.role_of(store, normalise_email(email))
    return Role.parse(label) if label else None


def list_roles(store) -> pd.DataFrame:
    """Every granted role: email, role, granted_by, granted_at (by email)."""
    return user_roles.all_roles(store)


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
        user_roles.upsert_role(con, target, role.label, principal.email)
        audit.record_in(con, principal.email, "set_role", f"{target} -> {role.label}")


def remove_role(store, principal: Principal, email: str) -> bool:
    """Withdraw a granted role (admins only); False when there was none. Audited."""
    target = _checked_target(principal, email)
    with store.writing(changes_results=False) as con:
        gone = user_roles.delete_role(con, target)
        if gone:
            audit.record_in(con, principal.email, "remove_role", target)
    return bool(gone)
