"""Roles, the allowlist and the guard (core.access), granted roles (core.roles), the audit log."""

from __future__ import annotations

import pytest

from core import audit, roles
from core.access import (
    ACTIONS,
    OPEN_MODE,
    AccessSettings,
    Principal,
    Role,
    cli_principal,
    require,
    resolve,
)
from core.errors import AccessConfigError, InputError, NotAllowedError, PermissionDenied

SETTINGS = AccessSettings.from_mapping({
    "allowed_emails": ["Guest@Other.test"], "allowed_domains": ["@team.test"],
    "admins": ["boss@team.test"], "default_role": "viewer",
})  # fmt: skip


def test_roles_are_ordered_and_parsed():
    assert Role.VIEWER < Role.ANALYST < Role.ADMIN
    assert Role.parse(" Analyst ") is Role.ANALYST and Role.ADMIN.label == "admin"
    with pytest.raises(AccessConfigError, match="unknown role 'owner'"):
        Role.parse("owner")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {"read", "export"}),
        (Role.ANALYST, {"read", "export", "analyse", "project"}),
        (Role.ADMIN, set(ACTIONS)),
    ],
)
def test_require_allows_exactly_the_role_s_actions(role, allowed):
    who = Principal("p@team.test", role)
    for action in ACTIONS:
        if action in allowed:
            require(who, action)
        else:
            with pytest.raises(PermissionDenied, match=f"p@team.test is a {role.label}"):
                require(who, action)
    with pytest.raises(ValueError, match="unknown action"):
        require(who, "fly")


def test_settings_parse_and_refuse_unknown_keys():
    assert SETTINGS.emails == {"guest@other.test"} and SETTINGS.domains == {"team.test"}
    assert SETTINGS.admins == {"boss@team.test"} and SETTINGS.default_role is Role.VIEWER
    single = AccessSettings.from_mapping({"allowed_emails": "a@b.test", "default_role": "analyst"})
    assert single.emails == {"a@b.test"} and single.default_role is Role.ANALYST
    assert AccessSettings.from_mapping(None) == AccessSettings()
    with pytest.raises(AccessConfigError, match="unknown keys \\['admin'\\]"):
        AccessSettings.from_mapping({"admin": ["x@y.test"]})
    with pytest.raises(AccessConfigError, match="must be a list"):
        AccessSettings.from_mapping({"admins": 3})


def test_resolve_allowlist_domains_admins_and_grants():
    assert resolve(SETTINGS, "ana@TEAM.test", None) == Principal("ana@team.test", Role.VIEWER)
    assert resolve(SETTINGS, "guest@other.test", None).role is Role.VIEWER
    assert resolve(SETTINGS, "boss@team.test", Role.VIEWER).role is Role.ADMIN  # never locked out
    assert resolve(SETTINGS, "ana@team.test", Role.ANALYST).role is Role.ANALYST
    assert resolve(SETTINGS, "invited@elsewhere.test", Role.ANALYST).role is Role.ANALYST
    for outsider in ("eve@evil-team.test", "eve@team.test.evil", "other@other.test"):
        with pytest.raises(NotAllowedError, match="not on this team's allowlist"):
            resolve(SETTINGS, outsider, None)
    for nobody in (None, "", "no-at-sign"):
        with pytest.raises(NotAllowedError, match="did not share an email"):
            resolve(SETTINGS, nobody, None)
    with pytest.raises(NotAllowedError):  # no [emoscope.access]: nobody is let in
        resolve(AccessSettings(), "ana@team.test", None)


def test_open_mode_and_cli_principals():
    assert OPEN_MODE.open_mode and OPEN_MODE.role is Role.ADMIN and OPEN_MODE.email == "anonymous"
    import getpass

    assert cli_principal() == Principal(f"cli:{getpass.getuser()}", Role.ADMIN)


def test_roles_granted_changed_removed_and_audited(store):
    boss = Principal("boss@team.test", Role.ADMIN)
    assert roles.granted_role(store, "ana@team.test") is None
    roles.set_role(store, boss, " Ana@Team.test ", Role.ANALYST)
    assert roles.granted_role(store, "ana@team.test") is Role.ANALYST
    roles.set_role(store, boss, "ana@team.test", Role.VIEWER)
    table = roles.list_roles(store)
    assert list(table.email) == ["ana@team.test"] and list(table.role) == ["viewer"]
    assert list(table.granted_by) == ["boss@team.test"]
    assert roles.remove_role(store, boss, "ana@team.test") is True
    assert roles.remove_role(store, boss, "ana@team.test") is False
    assert roles.granted_role(store, "ana@team.test") is None
    log = audit.read(store)
    assert list(zip(log.action, log.detail, strict=True)) == [
        ("remove_role", "ana@team.test"),
        ("set_role", "ana@team.test -> viewer"),
        ("set_role", "ana@team.test -> analyst"),
    ]
    assert set(log.user_name) == {"boss@team.test"}


def test_role_changes_are_refused_to_non_admins_and_to_oneself(store):
    boss = Principal("boss@team.test", Role.ADMIN)
    for role in (Role.VIEWER, Role.ANALYST):
        with pytest.raises(PermissionDenied, match="only admins"):
            roles.set_role(store, Principal("x@team.test", role), "y@team.test", Role.ADMIN)
        with pytest.raises(PermissionDenied, match="only admins"):
            roles.remove_role(store, Principal("x@team.test", role), "y@team.test")
    with pytest.raises(PermissionDenied, match="your own role"):
        roles.set_role(store, boss, "BOSS@team.test", Role.VIEWER)
    with pytest.raises(InputError, match="not an email"):
        roles.set_role(store, boss, "bob", Role.VIEWER)
    assert roles.list_roles(store).empty and audit.read(store).empty


def test_audit_read_limits_filters_and_truncates(store):
    for i in range(5):
        audit.record(store, f"u{i}@team.test", "export", f"clips.csv #{i}")
    audit.record(store, "u9@team.test", "upload", "x" * 5000)
    log = audit.read(store, limit=3)
    assert list(log.user_name) == ["u9@team.test", "u4@team.test", "u3@team.test"]
    assert len(log.detail[0]) == audit.MAX_DETAIL_CHARS and log.detail[0].endswith("…")
    assert list(audit.read(store, action="export").detail)[-1] == "clips.csv #0"
    with pytest.raises(InputError, match="unknown audit action"):
        audit.read(store, action="dance")
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(store, "u", "dance")
    assert audit.describe_files(["a.wav"]) == "1 file: a.wav"
    names = [f"{i}.wav" for i in range(7)]
    assert audit.describe_files(names) == "7 files: 0.wav, 1.wav, 2.wav, 3.wav, 4.wav and 2 more"
