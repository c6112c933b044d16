"""Token rules (core.access.tokens): shown once, stored hashed, expiry, who may list and revoke,
and the audit of every change."""

from __future__ import annotations

import pytest

from core.access import tokens
from core.access.audit import read
from core.access.principal import Principal, Role
from core.errors import InputError, NotSignedInError, PermissionDenied

VIEWER = Principal("v@team.test", Role.VIEWER)
OTHER = Principal("o@team.test", Role.ANALYST)
ADMIN = Principal("a@team.test", Role.ADMIN)


def test_a_token_is_stored_hashed_and_names_its_owner(store):
    new = tokens.create(store, VIEWER, "laptop", 7)
    assert new.secret.startswith(tokens.PREFIX)
    with store.reading() as con:
        stored = con.execute("SELECT token_hash, prefix FROM api_tokens").fetchall()
    assert stored == [(tokens.digest(new.secret), new.secret[:10])]
    assert new.secret not in str(read(store, 10).detail.tolist())
    assert tokens.owner_of(store, new.secret) == VIEWER.email
    with pytest.raises(NotSignedInError):
        tokens.owner_of(store, new.secret + "x")


def test_lists_and_revocation_follow_roles(store):
    mine = tokens.create(store, VIEWER, "mine")
    theirs = tokens.create(store, OTHER, "theirs")
    assert list(tokens.listed(store, VIEWER).owner) == [VIEWER.email]
    assert set(tokens.listed(store, ADMIN).owner) == {VIEWER.email, OTHER.email}
    with pytest.raises(PermissionDenied):
        tokens.revoke(store, VIEWER, theirs.token_id)
    assert tokens.revoke(store, VIEWER, mine.token_id)
    assert not tokens.revoke(store, VIEWER, mine.token_id)  # already revoked
    assert tokens.revoke(store, ADMIN, theirs.token_id)
    for new in (mine, theirs):
        with pytest.raises(NotSignedInError):
            tokens.owner_of(store, new.secret)
    log = read(store, 10)
    assert list(log.action) == ["revoke_token", "revoke_token", "create_token", "create_token"]
    assert list(log.user_name[:2]) == [ADMIN.email, VIEWER.email]


def test_bad_requests_are_refused(store):
    with pytest.raises(InputError):
        tokens.create(store, VIEWER, " ", 7)
    with pytest.raises(InputError):
        tokens.create(store, VIEWER, "x", 0)
    with pytest.raises(InputError):
        tokens.create(store, VIEWER, "x", tokens.MAX_DAYS + 1)
    with pytest.raises(PermissionDenied):  # only admins make tokens for someone else
        tokens.create(store, VIEWER, "x", owner=OTHER.email)
    assert tokens.create(store, ADMIN, "ci", owner=OTHER.email).token_id
    with pytest.raises(InputError):
        tokens.revoke(store, ADMIN, 999)
