"""The Admin page's actions: the audit log, granted roles and deleting a corpus (admins only)."""

from __future__ import annotations

import pandas as pd

from core.access import audit
from core.access.principal import Principal, Role, require
from dashboard import resources


def audit_log(principal: Principal, limit: int, action: str | None = None) -> pd.DataFrame:
    """The newest audit rows (admins only)."""
    require(principal, "read_audit")
    return audit.read(resources.store(), limit, action)


def role_table(principal: Principal) -> pd.DataFrame:
    """Every granted role (admins only)."""
    from core.access.roles import list_roles

    require(principal, "manage_roles")
    return list_roles(resources.store())


def set_role(principal: Principal, email: str, role: Role) -> bool:
    """Grant `role` to `email` (admins only); True once stored."""
    from core.access.roles import set_role as grant

    grant(resources.store(), principal, email, role)
    return True


def remove_role(principal: Principal, email: str) -> bool:
    """Withdraw a granted role (admins only); False when there was none."""
    from core.access.roles import remove_role as withdraw

    return withdraw(resources.store(), principal, email)


def delete_corpus(principal: Principal, name: str):
    """Delete a corpus and what only it uses (admins only); returns the DeletionReport."""
    from core.store.deletion import delete_corpus as delete

    s = resources.store()
    return delete(s, principal, name, s.path.parent / "media")
