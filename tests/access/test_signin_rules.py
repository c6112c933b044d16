"""Sign-in by the book (#31): `email_verified` must be the boolean true, addresses are parsed
strictly (one `@`, IDNA domains), sign-out closes the server's session entry, killed runs are
audited."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from core.access import audit
from core.access.principal import (
    AccessSettings,
    Principal,
    Role,
    parse_address,
    resolve,
    verified_email,
)
from core.access.sessions import SessionBook, session_key
from core.errors import AccessConfigError, NotAllowedError, NotSignedInError
from core.store.ingest_runs import list_runs, start_run

TEAM = AccessSettings.from_mapping({"allowed_domains": ["team.test", "Bücher.Test"],
                                    "admins": ["admin@team.test"]})  # fmt: skip
EMAIL = {"email": "ana@team.test"}


@pytest.mark.parametrize(
    ("claims", "admitted"),
    [
        ({**EMAIL, "email_verified": True}, True),
        (EMAIL, False),  # missing: unverified
        ({**EMAIL, "email_verified": "true"}, False),  # a string is no boolean
        ({**EMAIL, "email_verified": "false"}, False),
        ({**EMAIL, "email_verified": 1}, False),
        ({**EMAIL, "email_verified": None}, False),
        ({**EMAIL, "email_verified": False}, False),
    ],
)
def test_only_the_boolean_true_verifies_an_address(claims, admitted):
    if admitted:
        assert verified_email(claims, TEAM) == "ana@team.test"
    else:
        with pytest.raises(NotAllowedError, match="has not verified ana@team.test"):
            verified_email(claims, TEAM)


def test_a_provider_named_as_never_sending_the_claim_may_omit_it():
    entra = AccessSettings.from_mapping({"allowed_domains": ["team.test"],
                                         "providers_without_email_verified": ["microsoft"]})  # fmt: skip
    assert verified_email({**EMAIL, "provider": "microsoft"}, entra) == "ana@team.test"
    for claims in ({**EMAIL, "provider": "google"}, EMAIL,  # other providers: still refused
                   {**EMAIL, "provider": "microsoft", "email_verified": "false"},
                   {**EMAIL, "provider": "microsoft", "email_verified": False}):  # fmt: skip
        with pytest.raises(NotAllowedError, match="not verified"):
            verified_email(claims, entra)
    with pytest.raises(NotAllowedError, match="did not share an email"):
        verified_email({"email_verified": True}, entra)


@pytest.mark.parametrize(
    "address",
    ["eve@elsewhere.test@team.test", "eve@team.test@", "@team.test", "eve@", "eve",
     "eve@@team.test", '"eve@x"@team.test', "eve @team.test", "eve@team..test", "eve@-x.test"],
)  # fmt: skip
def test_an_address_needs_exactly_one_at_and_a_real_domain(address):
    with pytest.raises(NotAllowedError):
        resolve(TEAM, address, None)


def test_two_ats_never_borrow_the_last_domain_even_for_a_grant():
    with pytest.raises(NotAllowedError, match="exactly one @"):
        resolve(TEAM, "eve@elsewhere.test@team.test", None)
    with pytest.raises(NotAllowedError, match="exactly one @"):
        resolve(TEAM, "eve@elsewhere.test@team.test", Role.ADMIN)


def test_domains_compare_case_insensitively_after_idna():
    assert parse_address(" Ana@TEAM.Test ").domain == "team.test"
    assert str(parse_address("Ü@BÜCHER.test")) == "ü@xn--bcher-kva.test"
    assert resolve(TEAM, "a@bücher.test", None) == Principal("a@xn--bcher-kva.test", Role.VIEWER)
    assert resolve(TEAM, "a@XN--BCHER-KVA.test", None).role is Role.VIEWER
    assert (
        resolve(TEAM, "a@team.test.", None).role is Role.VIEWER
    )  # the root dot is no other domain
    assert resolve(TEAM, "Admin@Team.Test", None).role is Role.ADMIN
    for outsider in ("a@bucher.test", "a@team.test.evil", "a@evil-team.test"):
        with pytest.raises(NotAllowedError, match="allowlist"):
            resolve(TEAM, outsider, None)
    with pytest.raises(AccessConfigError, match="no domain"):
        AccessSettings.from_mapping({"allowed_domains": ["bad domain!"]})
    with pytest.raises(AccessConfigError, match="session_hours"):
        AccessSettings.from_mapping({"session_hours": 0})


# -- the session list -----------------------------------------------------------------------


def claims(nonce: str = "n1", iat: int = 1000) -> dict:
    return {"is_logged_in": True, "email": "ana@team.test", "sub": "s1", "iss": "http://idp",
            "iat": iat, "nonce": nonce, "provider": "default"}  # fmt: skip


def test_a_sign_in_counts_only_while_its_entry_is_open(tmp_path):
    book = SessionBook.beside(tmp_path / "emoscope.duckdb")
    first, second = claims("n1"), claims("n2")  # two sign-ins of one account
    with pytest.raises(NotSignedInError, match="signed out"):
        book.require_open(first)  # never opened by the callback: a cookie from elsewhere
    book.open(session_key(first), "ana@team.test", 12)
    book.open(session_key(second), "ana@team.test", 12)
    assert book.require_open(first) == session_key(first)
    assert book.close(session_key(first)) and not book.close(session_key(first))
    with pytest.raises(NotSignedInError):
        book.require_open(first)  # the replayed cookie of the signed-out sign-in
    assert book.is_open(session_key(second))  # the other sign-in lives on
    # Persistent: another process (a restarted server) reads the same file.
    again = SessionBook.beside(tmp_path / "emoscope.duckdb")
    assert again.is_open(session_key(second)) and not again.is_open(session_key(first))
    assert (
        book.path.name == "emoscope.sessions.json" and oct(book.path.stat().st_mode)[-3:] == "600"
    )
    assert "ana@team.test" in book.path.read_text() and "n2" not in book.path.read_text()
    assert session_key({"email": "x", "sub": "s"}) is None  # no iat: not an ID token's claims
    assert book.close_all("ana@team.test") == 1 and not again.is_open(session_key(second))


def test_an_entry_lapses_after_its_hours_and_a_broken_file_signs_everyone_out(tmp_path):
    book = SessionBook(tmp_path / "s.json")
    key = session_key(claims())
    book.open(key, "ana@team.test", 1, now=1_000.0)
    assert book.is_open(key, now=1_000.0 + 3599) and not book.is_open(key, now=1_000.0 + 3601)
    book.open(session_key(claims("n9")), "ana@team.test", 1)  # an edit prunes lapsed entries
    assert key not in book.entries()
    book.path.write_text("{not json")
    assert not book.is_open(session_key(claims("n9")))  # fails closed


# -- killed runs leave an audit row -----------------------------------------------------------


def test_a_killed_run_is_audited_when_found_killed(tmp_path):
    from core.store.database import Store

    db = tmp_path / "runs.duckdb"
    Store(db).initialise()
    code = ("import os, sys; from core.store.database import Store; "
            "from core.store.ingest_runs import start_run; "
            "start_run(Store(sys.argv[1]), 'calls', 'm', 3, user_name='ana@team.test'); "
            "print('started', flush=True); os.kill(os.getpid(), 9)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL and "started" in done.stdout
    store = Store(db)
    assert list_runs(store).status.iloc[0] == "running"
    start_run(store, "calls", "m", 1, user_name="bob@team.test")  # finds the dead one
    assert list(list_runs(store).sort_values("run_id").status) == ["interrupted", "running"]
    log = audit.read(store)
    assert (log.user_name[0], log.action[0]) == ("ana@team.test", "ingest")
    assert log.detail[0].startswith("corpus 'calls', run 1: interrupted (process ")
    assert json.dumps(list(log.action)) == '["ingest"]'
    assert os.getpid() not in [int(s) for s in log.detail[0].split() if s.isdigit()]
