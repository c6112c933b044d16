"""Personal API tokens: created by their owner (shown once), stored hashed with an expiry,
revoked by their owner or an admin; every change audited under the acting user's name.

A token carries no role of its own: a request made with it acts as its owner with the role the
owner holds at that moment (core.access.principal.resolve), so a withdrawn role or a removed
allowlist entry takes effect on the next call.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from core.access import audit
from core.access.principal import Principal, normalise_email, require
from core.errors import InputError, NotSignedInError, PermissionDenied
from core.store import tokens as queries

PREFIX = "emo_"
DEFAULT_DAYS = 90
MAX_DAYS = 365
MAX_NAME_CHARS = 80


@dataclass(frozen=True)
class NewToken:
    """A token just created: `secret` is shown to its owner once and never stored."""

    token_id: int
    secret: str
    expires_at: datetime


def digest(secret: str) -> str:
    """The stored form of a token (256 random bits: a plain SHA-256 is enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create(store, principal: Principal, name: str, days: int = DEFAULT_DAYS,
           owner: str | None = None) -> NewToken:  # fmt: skip
    """A new token for `principal` (or, admins only, for `owner`); audited."""
    require(principal, "read")
    owner = principal.email if owner is None else normalise_email(owner)
    if owner != principal.email:
        require(principal, "manage_roles")
    name = str(name).strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InputError(f"give the token a name of 1 to {MAX_NAME_CHARS} characters.")
    if not 1 <= int(days) <= MAX_DAYS:
        raise InputError(f"a token lasts 1 to {MAX_DAYS} days, not {days}.")
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now().replace(microsecond=0) + timedelta(days=int(days))
    with store.writing(changes_results=False) as con:
        token_id = queries.insert(con, owner, name, digest(secret), secret[:10], expires)
        audit.record_in(con, principal.email, "create_token",
                        f"token {token_id} {name!r} for {owner}, expires {expires:%Y-%m-%d}")  # fmt: skip
    return NewToken(token_id, secret, expires)


def owner_of(store, secret: str) -> str:
    """The email a valid token belongs to; NotSignedInError for an unknown, revoked or expired
    token (one message for all three: a guesser learns nothing)."""
    row = queries.by_hash(store, digest(secret)) if secret.startswith(PREFIX) else None
    if row is None or _present(row["revoked_at"]) or row["expires_at"] <= datetime.now():
        raise NotSignedInError("the token is unknown, expired or revoked.")
    return str(row["owner"])


def listed(store, principal: Principal) -> pd.DataFrame:
    """The principal's own tokens; an admin's list holds everyone's."""
    require(principal, "read")
    return queries.listed(store, None if principal.may("manage_roles") else principal.email)


def revoke(store, principal: Principal, token_id: int) -> bool:
    """Revoke a token: its owner or an admin; False when it was already revoked. Audited."""
    with store.writing(changes_results=False) as con:
        row = queries.by_id(con, int(token_id))
        if row is None:
            raise InputError(f"no token {token_id}.")
        if row["owner"] != principal.email and not principal.may("manage_roles"):
            raise PermissionDenied("only a token's owner or an admin may revoke it.")
        if _present(row["revoked_at"]):
            return False
        queries.revoke(con, int(token_id), principal.email)
        audit.record_in(con, principal.email, "revoke_token",
                        f"token {token_id} {row['name']!r} of {row['owner']}")  # fmt: skip
    return True


def _present(value) -> bool:
    return value is not None and not pd.isna(value)
