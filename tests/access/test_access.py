"""Roles, the allowlist and the guard (core.access.principal), granted roles (core.access.roles), the audit log."""

from __future__ import annotations

import io
import itertools
import os
import pwd
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.access import audit, roles
from core.access.principal import (
    ACTIONS,
    OPEN_MODE,
    AccessSettings,
    Principal,
    Role,
    cli_principal,
    os_account,
    require,
    resolve,
)
from core.access.sessions import SessionBook, session_key
from core.errors import (
    AccessConfigError,
    InputError,
    NotAllowedError,
    NotSignedInError,
    PermissionDenied,
)
from core.store.corpora import list_corpora
from core.store.database import ClipFilter, Store
from core.store.integrity import integrity_report
from core.store.models import list_models
from dashboard.auth import BANNER

SETTINGS = AccessSettings.from_mapping({
    "allowed_emails": ["Guest@Other.test"], "allowed_domains": ["@team.test"],
    "admins": ["boss@team.test"], "analysts": ["ana@team.test", "ext@elsewhere.test"],
    "default_role": "viewer",
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
        (Role.ANALYST, {"read", "export", "analyse", "project"}),  # not local_model
        (Role.ADMIN, set(ACTIONS)),
    ],
)
def test_require_allows_exactly_the_role_s_actions(role, allowed):
    who = Principal("p@team.test", role)
    for action in ACTIONS:
        if action in allowed:
            require(who, action)
        else:
            with pytest.raises(PermissionDenied, match=f"p@team.test has the {role.label} role"):
                require(who, action)
    with pytest.raises(ValueError, match="unknown action"):
        require(who, "fly")


def test_settings_parse_and_refuse_unknown_keys():
    assert SETTINGS.emails == {"guest@other.test"} and SETTINGS.domains == {"team.test"}
    assert SETTINGS.admins == {"boss@team.test"} and SETTINGS.default_role is Role.VIEWER
    assert SETTINGS.analysts == {"ana@team.test", "ext@elsewhere.test"}
    single = AccessSettings.from_mapping({"allowed_emails": "a@b.test", "default_role": "analyst"})
    assert single.emails == {"a@b.test"} and single.default_role is Role.ANALYST
    assert AccessSettings.from_mapping(None) == AccessSettings()
    with pytest.raises(AccessConfigError, match="unknown keys \\['admin'\\]"):
        AccessSettings.from_mapping({"admin": ["x@y.test"]})
    with pytest.raises(AccessConfigError, match="must be a list"):
        AccessSettings.from_mapping({"admins": 3})


def test_resolve_allowlist_domains_admins_and_grants():
    assert resolve(SETTINGS, "bo@TEAM.test", None) == Principal("bo@team.test", Role.VIEWER)
    assert resolve(SETTINGS, "guest@other.test", None).role is Role.VIEWER
    assert resolve(SETTINGS, "boss@team.test", Role.VIEWER).role is Role.ADMIN  # never locked out
    assert resolve(SETTINGS, "bo@team.test", Role.ANALYST).role is Role.ANALYST
    assert resolve(SETTINGS, "invited@elsewhere.test", Role.ANALYST).role is Role.ANALYST
    # Configured analysts are admitted as analysts; an admin's grant overrides that.
    assert resolve(SETTINGS, "Ana@team.test", None) == Principal("ana@team.test", Role.ANALYST)
    assert resolve(SETTINGS, "ext@elsewhere.test", None).role is Role.ANALYST
    assert resolve(SETTINGS, "ana@team.test", Role.VIEWER).role is Role.VIEWER
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
    assert cli_principal() == Principal(f"cli:{pwd.getpwuid(os.getuid()).pw_name}", Role.ADMIN)


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


# -- the dashboard: gate, banner, roles in the pages, guarded actions (Streamlit AppTest) --------

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
SECRETS = {
    "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
             "client_id": "emoscope", "client_secret": "secret",
             "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"},
    "emoscope": {"access": {"allowed_domains": ["team.test"], "admins": ["boss@team.test"],
                            "default_role": "viewer"}},
}  # fmt: skip


def app(db: Path, monkeypatch, user: dict | None, page: str | None = None, secrets=SECRETS,
        session_open: bool = True):  # fmt: skip
    """The dashboard over `db` for `user` (None: no [auth], open mode), optionally on `page`.

    A signed-in `user` also gets its entry in the session list, as the provider's callback
    gives it on a real server (dashboard/guard.py), unless `session_open` is False.
    """
    monkeypatch.setenv("EMOSCOPE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    if user is not None:
        at.secrets = secrets
        at.user = user
        key = session_key(user)
        if user.get("is_logged_in") and key and session_open:
            SessionBook.beside(db.resolve()).open(key, str(user.get("email")), 12)
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


SIGN_INS = itertools.count(1_700_000_000)


def signed_in(email: str | None, **claims) -> dict:
    """st.user after a sign-in: the ID token's claims (a new `iat` and `nonce` each time)."""
    iat = next(SIGN_INS)
    user = {"is_logged_in": True, "email": email, "email_verified": True, "name": "X",
            "sub": f"sub-{email}", "iss": "http://idp.test", "iat": iat, "nonce": f"n{iat}",
            "provider": "default"}  # fmt: skip
    user.update(claims)
    return {k: v for k, v in user.items() if v is not None}


def text_of(at) -> str:
    """Every string the visitor's page holds (markdown, captions, titles, tables, labels)."""
    parts = [str(e.value) for kind in ("markdown", "caption", "title", "header", "subheader",
             "info", "warning", "error", "success") for e in at.get(kind)]  # fmt: skip
    parts += [w.label for kind in ("button", "selectbox", "text_input") for w in at.get(kind)]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(parts)


@pytest.fixture
def team_db(seeded_db, tmp_path) -> Path:
    """A copy of the seeded database (corpus 'calls'), free to change, without the projections
    and audit rows that other tests' pages may have left in the shared seeded file."""
    import duckdb

    copy = tmp_path / "team.duckdb"
    shutil.copy(seeded_db, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM projections")
        con.execute("DELETE FROM audit_log")
    return copy


def test_open_mode_says_so_and_everything_stays_open(team_db, monkeypatch):
    at = app(team_db, monkeypatch, None)
    assert at.warning[0].value == BANNER
    assert not any(b.label == "Sign out" for b in at.sidebar.button)
    at.switch_page("../pages/upload.py")  # registered: open mode is an admin
    at.run()
    assert at.get("file_uploader")
    at.switch_page("../pages/admin.py")
    at.run()
    assert not at.exception and any("no effect yet" in w.value for w in at.warning)


def test_anonymous_visitor_gets_the_sign_in_screen_and_no_data(team_db, tmp_path, monkeypatch):
    at = app(team_db, monkeypatch, {"is_logged_in": False})
    assert [b.label for b in at.button] == ["Sign in"]
    page = text_of(at)
    assert "Sign in to continue" in page and BANNER not in page
    for secret in ("calls", "team.duckdb", "alice", "2024-05-01_0"):
        assert secret not in page
    assert not at.sidebar.caption and not at.dataframe
    never = tmp_path / "never-opened.duckdb"  # nothing is read, so the file is never created
    app(never, monkeypatch, {"is_logged_in": False})
    assert not never.exists()


def test_sign_in_offers_each_named_provider(team_db, monkeypatch):
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
            "google": {"client_id": "g", "client_secret": "x", "server_metadata_url": "http://g"},
            "okta": {"client_id": "o", "client_secret": "x", "server_metadata_url": "http://o"}}  # fmt: skip
    at = app(team_db, monkeypatch, {"is_logged_in": False}, secrets={**SECRETS, "auth": auth})
    assert [b.label for b in at.button] == ["Sign in with Google", "Sign in with Okta"]


@pytest.mark.parametrize(
    ("user", "message"),
    [
        (signed_in("eve@evil.test"), "eve@evil.test is not on this team's allowlist"),
        (signed_in("v@team.test", email_verified=False), "not verified"),
        (signed_in(None), "did not share an email"),
    ],
)
def test_outsiders_are_refused_with_a_way_out(team_db, monkeypatch, user, message):
    at = app(team_db, monkeypatch, user)
    assert len(at.error) == 1 and message in at.error[0].value
    assert [b.label for b in at.button] == ["Sign out"]
    assert "calls" not in text_of(at) and not at.sidebar.caption


def test_bad_access_settings_fail_closed(team_db, monkeypatch):
    broken = {**SECRETS, "emoscope": {"access": {"default_role": "owner"}}}
    at = app(team_db, monkeypatch, signed_in("v@team.test"), secrets=broken)
    assert "unknown role 'owner'" in at.error[0].value and "calls" not in text_of(at)


def test_viewer_reads_and_exports_but_cannot_upload_or_compute(team_db, monkeypatch):
    at = app(team_db, monkeypatch, signed_in("V@team.test"), page="clips")
    assert "Signed in as v@team.test · viewer" in [c.value for c in at.sidebar.caption]
    assert len(at.dataframe[0].value) == 12  # reads the corpus
    assert "Upload" not in str(at.session_state["pages"]) and "Admin" not in str(
        at.session_state["pages"])  # fmt: skip
    for page, refusal in (("upload", "only analysts and above may upload and analyse recordings"),
                          ("admin", "only admins and above may read the audit log")):  # fmt: skip
        at.switch_page(f"../pages/{page}.py")  # the URL answers with the refusal, no control
        at.run()
        assert [w.value for w in at.warning] == [f"v@team.test has the viewer role: {refusal}. Ask an "
                                                 "admin for a higher role."]  # fmt: skip
        assert not at.get("file_uploader") and not at.main.button and not at.table
    at.switch_page("../pages/clusters.py")
    at.run()
    assert not [b for b in at.button if b.label == "Compute projection"]
    assert any("needs the analyst role" in c.value for c in at.caption)
    at.switch_page("../pages/exports.py")
    at.run()
    assert len(at.main.button) == 6  # each table in each format, written on click


def test_analyst_uploads_and_computes_but_has_no_admin_page(team_db, monkeypatch, hub_online):
    from core.access import roles
    from dashboard import resources

    roles.set_role(Store(team_db), BOSS, "ana@team.test", Role.ANALYST)
    at = app(team_db, monkeypatch, signed_in("ana@team.test"), page="upload")
    assert at.get("file_uploader") and not at.info
    model = next(s for s in at.selectbox if s.label == "Model")
    assert len(model.options) == len(resources.MODEL_CHOICES) - 1  # the models folder is for admins
    assert resources.LOCAL_MODEL not in model.options
    assert f"{resources.HUB_MODELS[0]} (downloaded on first use)" in model.options
    at.switch_page("../pages/clusters.py")
    at.run()
    assert [b.label for b in at.button if b.label == "Compute projection"]
    at.switch_page("../pages/admin.py")
    at.run()
    assert "ana@team.test has the analyst role: only admins" in at.warning[0].value and not at.table


def test_an_admin_may_pick_a_model_from_the_models_folder(
    team_db, monkeypatch, tmp_path, hub_online
):
    from dashboard import resources

    (tmp_path / "models" / "ours").mkdir(parents=True)
    (tmp_path / "models" / "ours" / "config.yaml").write_text("model: Emotion2vec\n")
    monkeypatch.setenv("EMOSCOPE_MODELS_DIR", str(tmp_path / "models"))
    at = app(team_db, monkeypatch, signed_in("boss@team.test"), page="upload")
    model = next(s for s in at.selectbox if s.label == "Model")
    assert (
        len(model.options) == len(resources.MODEL_CHOICES)
        and resources.LOCAL_MODEL in model.options
    )
    model.select(resources.LOCAL_MODEL).run()
    assert next(s for s in at.selectbox if s.label == "Model directory").options == ["ours"]


def test_sign_out_ends_the_session(team_db, monkeypatch):
    at = app(team_db, monkeypatch, signed_in("v@team.test"), page="clips")
    assert at.dataframe
    next(b for b in at.sidebar.button if b.label == "Sign out").click()
    at.run()
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.dataframe
    assert "calls" not in text_of(at)


BOSS = Principal("boss@team.test", Role.ADMIN)


def as_typed_text(text) -> str:
    """Text of the page as the reader sees it: Markdown escapes and zero-width spaces undone."""
    return re.sub(r"\\(.)", r"\1", str(text)).replace("\u200b", "")


def as_typed(frame):
    """A table of the page as the reader sees it."""
    shown = frame.map(as_typed_text)
    shown.index = [as_typed_text(i) for i in shown.index]
    shown.columns = [as_typed_text(c) for c in shown.columns]
    return shown


def test_guarded_actions_refuse_a_viewer_on_the_server(team_db, monkeypatch, tmp_path):
    """The actions themselves check the role, whatever the page showed (crafted rerun, URL)."""
    from core.analysis.clusters import ProjectionParams
    from core.jobs import JOBS
    from dashboard import admin, jobs, resources

    monkeypatch.setenv("EMOSCOPE_DB", str(team_db))
    viewer = Principal("v@team.test", Role.VIEWER)
    before = Store(team_db).file_stamp()
    request = jobs.Analysis(resources.TEST_MODEL, "sneaky", None, False, "mix", ())
    with pytest.raises(PermissionDenied, match="only analysts and above may upload and analyse"):
        jobs.start_analysis(viewer, request, [("x.wav", io.BytesIO(b"RIFF"))])
    assert not [k for k in JOBS._jobs if k.startswith("analyse-")]  # no job was started
    analyst = Principal("a@team.test", Role.ANALYST)
    local = jobs.Analysis(f"{resources.LOCAL_PREFIX}mine", "sneaky", None, False, "mix", ())
    with pytest.raises(
        PermissionDenied, match="only admins and above may analyse with a model from the server"
    ):
        jobs.start_analysis(analyst, local, [("x.wav", io.BytesIO(b"RIFF"))])
    assert not [k for k in JOBS._jobs if k.startswith("analyse-")]
    with pytest.raises(PermissionDenied, match="may compute projections"):
        jobs.start_projection(viewer, "k", "m", ClipFilter(), ProjectionParams())
    with pytest.raises(PermissionDenied, match="only admins"):
        admin.delete_corpus(Principal("a@team.test", Role.ANALYST), "calls")
    with pytest.raises(PermissionDenied, match="only admins"):
        admin.set_role(viewer, "w@team.test", Role.ADMIN)
    with pytest.raises(PermissionDenied, match="only admins"):
        admin.audit_log(viewer, 10)
    assert Store(team_db).file_stamp() == before  # nothing was written, not even an audit row
    assert list(list_corpora(Store(team_db)).corpus) == ["calls"]


@pytest.fixture
def signed_in_server(team_db, monkeypatch):
    """What a worker thread of a signed-in server sees: [auth] configured, the database set."""
    from dashboard import auth

    monkeypatch.setenv("EMOSCOPE_DB", str(team_db))
    monkeypatch.setattr(auth, "secrets", lambda: SECRETS)
    return team_db


def sign_in_of(db: Path, claims: dict):
    """The checked SignIn of `claims`, after their callback opened them in the session list."""
    from dashboard import auth

    SessionBook.beside(db.resolve()).open(session_key(claims), claims["email"], 12)
    return auth.checked_sign_in(claims, auth.settings())


_SLOTS: list = []  # the files the exports of a test wrote, removed after it


@pytest.fixture(autouse=True)
def _exports_removed():
    yield
    while _SLOTS:
        _SLOTS.pop().drop()


def exported(sign_in, fmt: str, key: str, where=None, what: str = "clips"):
    """An export started as the Exports page starts it, and its job's final state."""
    from dashboard import downloads

    request = downloads.ExportRequest(what, fmt, key, where or ClipFilter())
    _SLOTS.append(downloads.FileSlot())
    return downloads.start_export(sign_in, request, _SLOTS[-1]).wait()


def test_export_is_audited_when_the_file_is_built(signed_in_server):
    from dashboard import downloads

    store = Store(signed_in_server)
    key = list_models(store).model_key[0]
    viewer = sign_in_of(signed_in_server, signed_in("v@team.test"))
    assert audit.read(store).empty  # showing the page builds nothing
    state = exported(viewer, "csv", key, ClipFilter(corpora=("calls",)))
    assert state.error is None and state.result.rows == 12
    with downloads.served(viewer, state.result)() as handle:
        assert handle.read().count(b"\n") == 13  # header + 12 clips
    log = audit.read(store)
    assert (log.user_name[0], log.action[0]) == ("v@team.test", "export")
    assert log.detail[0] == f"clips.csv, {key}, filter: corpora=('calls',)"
    assert len(log) == 1  # the download serves the file written; it is not audited twice


def test_a_download_checks_the_role_at_the_click_not_at_the_page(signed_in_server):
    """A role withdrawn (or a sign-out) while the Exports page stays open stops both writing a
    file and downloading one already written; the visitor reads why under the button."""
    from dashboard import downloads

    store = Store(signed_in_server)
    key = list_models(store).model_key[0]
    guest = signed_in("guest@elsewhere.test")  # admitted only by an admin's grant
    roles.set_role(store, BOSS, "guest@elsewhere.test", Role.VIEWER)
    sign_in = sign_in_of(signed_in_server, guest)
    state = exported(sign_in, "parquet", key)  # clicked while the grant holds
    download = downloads.served(sign_in, state.result)
    download().close()
    roles.remove_role(store, BOSS, "guest@elsewhere.test")  # the page is still open
    with pytest.raises(NotAllowedError, match="guest@elsewhere.test is not on this team's"):
        exported(sign_in, "parquet", key)
    holder: dict = {}
    downloads._FAILURE.set(holder)
    with pytest.raises(NotAllowedError, match="guest@elsewhere.test is not on this team's"):
        download()
    assert "not on this team's allowlist" in holder["message"]
    assert list(audit.read(store).action) == ["remove_role", "export", "set_role"]
    roles.set_role(store, BOSS, "guest@elsewhere.test", Role.VIEWER)
    download().close()  # granted again: the same button works again
    SessionBook.beside(signed_in_server.resolve()).close(session_key(guest))  # signed out
    with pytest.raises(NotSignedInError, match="signed out"):
        download()


def test_a_failed_export_is_audited_as_failed_and_told(signed_in_server, monkeypatch):
    from core.errors import StoreBusyError
    from core.store import export
    from dashboard import resources

    def busy(*args, **kwargs):
        raise StoreBusyError(f"database busy: another EmoScope process is writing to "
                             f"{signed_in_server}.")  # fmt: skip

    monkeypatch.setattr(export, "export_to_temp", busy)
    store = Store(signed_in_server)
    key = list_models(store).model_key[0]
    state = exported(sign_in_of(signed_in_server, signed_in("v@team.test")), "csv", key,
                     what="frames")  # fmt: skip
    assert state.result is None and state.error.startswith("database busy")
    log = audit.read(store)
    assert (log.user_name[0], log.action[0]) == ("v@team.test", "export")
    assert log.detail[0].startswith(f"frames.csv, {key}, filter: none; failed: database busy")
    assert resources.for_visitor(state.error) == (
        "database busy: another EmoScope process is writing to team.duckdb."
    )  # what the page shows: the file's name, never its folder


def test_admin_page_audit_roles_and_typed_deletion(team_db, monkeypatch):
    store = Store(team_db)
    audit.record(store, "ana@team.test", "upload", "corpus 'calls', 1 file: a.wav; run 1")
    at = app(team_db, monkeypatch, signed_in("boss@team.test"), page="admin")
    table = as_typed(at.table[0].value)
    assert list(table.user_name) == ["ana@team.test"] and list(table.action) == ["upload"]
    assert any("admins boss@team.test; analysts none; allowed domains team.test" in c.value
               for c in at.caption)  # fmt: skip
    # Filter the audit by action, and by size.
    at.selectbox(key="audit-action").set_value("export").run()
    assert any(i.value == "No audit entries yet." for i in at.info)
    at.selectbox(key="audit-action").set_value("all").run()
    at.selectbox(key="audit-limit").set_value(1000).run()
    assert len(as_typed(at.table[0].value)) == 1
    # Grant a role through the form, then withdraw it.
    at.text_input(key="role-email").input("Ana@Team.test")
    at.selectbox(key="role-choice").set_value("analyst")
    next(b for b in at.button if b.label == "Grant role").click().run()
    assert any(
        as_typed_text(s.value) == "ana@team.test now has the analyst role." for s in at.success
    )
    assert roles_of(store) == {"ana@team.test": "analyst"}
    at.selectbox(key="role-remove").set_value("ana@team.test").run()
    at.button(key="role-remove-button").click().run()
    assert roles_of(store) == {}
    # Deletion needs the corpus's name typed exactly.
    at.selectbox(key="delete-corpus").set_value("calls").run()
    assert at.button(key="delete-button").disabled
    at.text_input(key="delete-confirm").input("call").run()
    assert at.button(key="delete-button").disabled
    at.text_input(key="delete-confirm").input("calls").run()
    at.button(key="delete-button").click().run()
    assert at.success[-1].value.startswith("deleted corpus 'calls': 12 clips, 12 predictions")
    assert list_corpora(store).empty
    assert all(n == 0 for n in integrity_report(store).values())
    actions = list(audit.read(store).action)
    assert actions[:3] == ["delete_corpus", "remove_role", "set_role"]
    assert set(audit.read(store).user_name[:3]) == {"boss@team.test"}


def roles_of(store) -> dict[str, str]:
    from core.access import roles

    table = roles.list_roles(store)
    return dict(zip(table.email, table.role, strict=True))


def test_admin_page_offers_every_audit_filter_and_size(team_db, monkeypatch):
    from core.access.audit import AUDIT_ACTIONS

    store = Store(team_db)
    with store.writing() as con:  # 1,001 rows: more than the largest choice
        for i in range(1001):
            audit.record_in(con, f"u{i}@team.test", AUDIT_ACTIONS[i % len(AUDIT_ACTIONS)], str(i))
    at = app(team_db, monkeypatch, signed_in("boss@team.test"), page="admin")
    for size in (50, 200, 1000):
        at.selectbox(key="audit-limit").set_value(size).run()
        shown = as_typed(at.table[0].value)
        assert len(shown) == size and shown.detail.iloc[0] == "1000"
    for action in AUDIT_ACTIONS:
        at.selectbox(key="audit-action").set_value(action).run()
        assert set(as_typed(at.table[0].value).action) == {action}


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
def test_admin_grants_each_role_and_it_takes_effect(team_db, monkeypatch, role):
    at = app(team_db, monkeypatch, signed_in("boss@team.test"), page="admin")
    at.text_input(key="role-email").input("new@elsewhere.test")
    at.selectbox(key="role-choice").set_value(role)
    next(b for b in at.button if b.label == "Grant role").click().run()
    assert roles_of(Store(team_db)) == {"new@elsewhere.test": role}
    # The grant admits an address outside the allowlist, with that role.
    them = app(team_db, monkeypatch, signed_in("new@elsewhere.test"))
    assert f"Signed in as new@elsewhere.test · {role}" in [c.value for c in them.sidebar.caption]


def test_projection_start_is_audited(team_db, monkeypatch):
    from core.analysis.clusters import ProjectionParams
    from dashboard import jobs

    monkeypatch.setenv("EMOSCOPE_DB", str(team_db))
    store = Store(team_db)
    key = list_models(store).model_key[0]
    analyst = Principal("ana@team.test", Role.ANALYST)
    where = ClipFilter(corpora=("calls",))
    job = jobs.start_projection(analyst, "audit-test", key, where, ProjectionParams(k=2))
    assert job.wait(300).error is None
    log = audit.read(store)
    assert (log.user_name[0], log.action[0]) == ("ana@team.test", "projection")
    assert log.detail[0] == f"{key}, filter: corpora=('calls',)"


@pytest.mark.parametrize(
    ("env", "args", "address"),
    [
        ({}, ["--server.port", "8600"], ["--server.address", "127.0.0.1"]),
        ({"EMOSCOPE_ADDRESS": "0.0.0.0"}, [], ["--server.address", "0.0.0.0"]),
        ({}, ["--server.address", "10.1.2.3"], ["--server.address", "10.1.2.3"]),
        ({"EMOSCOPE_ADDRESS": "0.0.0.0"}, ["--server.address=::1"], ["--server.address=::1"]),
    ],
)
def test_run_script_listens_on_localhost_unless_asked(tmp_path, env, args, address):
    """scripts/run.sh as shipped, in a copy of the tree whose set-up and python only record."""
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "scripts").mkdir()
    shutil.copy(root / "scripts" / "run.sh", tmp_path / "scripts" / "run.sh")
    (tmp_path / "scripts" / "setup.sh").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    for script in ("scripts/setup.sh", ".venv/bin/python"):
        (tmp_path / script).chmod(0o755)
    done = subprocess.run(["bash", str(tmp_path / "scripts" / "run.sh"), *args], text=True,
                          capture_output=True, env={"PATH": os.environ["PATH"], **env}, check=True)  # fmt: skip
    passed = done.stdout.splitlines()
    assert passed[:2] == ["-m", "dashboard.serve"]
    assert sorted(passed[2:]) == sorted([*address, *(a for a in args if a not in address)])
    assert sum(a.startswith("--server.address") for a in passed) == 1


def test_serve_hands_its_arguments_to_streamlit_run(monkeypatch):
    import sys

    from streamlit.web import cli

    from dashboard import serve

    seen = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["serve"])
    serve.main(["--server.port", "8600"])
    assert seen == [["streamlit", "run", str(serve.APP), "--server.port", "8600"]]
    assert serve.APP.name == "asgi_app.py" and serve.APP.exists()
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(serve.APP)  # Streamlit serves it as st.App, guard in front
    assert found.is_asgi_app and found.import_string == "asgi_app:app"


def test_cli_roles_lists_grants_and_withdraws(tmp_path):
    from tests.store.test_corpus_delete import cli

    db = tmp_path / "roles.duckdb"
    assert "no granted roles" in cli("roles", db=db).stdout
    granted = cli("roles", "set", "Ana@Team.test", "analyst", db=db)
    assert granted.returncode == 0, granted.stderr
    me = os_account()  # the passwd entry: cli() sets USER=tester, which must not count
    assert me != "cli:tester" and me == f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    assert granted.stdout.startswith(f"ana@team.test  analyst  granted by {me} ")
    assert cli("roles", "list", db=db).stdout == granted.stdout
    for bad, message in ((["set", "x@y.test"], "usage: roles set"), (["set", "x@y.test", "boss"],
                         "unknown role 'boss'"), (["remove"], "usage: roles remove"),
                         (["remove", "nobody@y.test"], "has no granted role"),
                         (["list", "extra"], "usage: roles [")):  # fmt: skip
        refused = cli("roles", *bad, db=db)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    assert "no granted roles" in cli("roles", "remove", "ana@team.test", db=db).stdout
    log = cli("audit", db=db).stdout.splitlines()
    assert [line.split("  ")[1:] for line in log] == [
        [me, "remove_role", "ana@team.test"],
        [me, "set_role", "ana@team.test -> analyst"],
    ]


def test_a_signed_in_visitor_meets_an_unusable_database_in_one_line(tmp_path, monkeypatch):
    db = tmp_path / "team.duckdb"
    db.write_bytes(b"not a database at all" * 1000)
    at = app(db, monkeypatch, signed_in("v@team.test"))  # the role lookup is the first read
    assert [e.value for e in at.error] == [
        "Database team.duckdb: team.duckdb is not a DuckDB database file (no DuckDB header); "
        "restore it from a backup, or move it aside to start a new database; "
        "`python -m core check` shows what is damaged."
    ]
    assert str(tmp_path) not in at.error[0].value and not at.sidebar.caption
