"""Sign-in end to end: a real OpenID Connect provider on localhost (oidc-provider-mock), the real
Streamlit server with `[auth]` from its own secrets file, and Chromium through the redirect flow.

An anonymous visitor gets the sign-in screen and no data; a viewer has no upload control, even
at the upload URL; an analyst's upload shows in the admin's audit; signing out ends the session.
By the book (#31): a missing or string `email_verified` and a two-@ address are refused; a
cookie replayed after sign-out is refused; a role removed before a download stops it; media
URLs are no bearer links; an anonymous session cannot upload.
"""

from __future__ import annotations

import re
import secrets
import shutil

import pytest

from tests.browser.driving import (
    export_and_download,
    no_exception,
    settle,
    shoot,
    start_server,
    upload_and_analyse,
)

USERS = {  # sub -> email; the domain team.test is allowed, admins are named
    "viewer": "viewer@team.test",
    "analyst": "analyst@team.test",
    "admin": "admin@team.test",
    "outsider": "eve@elsewhere.test",
    "guest": "guest@elsewhere.test",  # admitted only while an admin's grant holds
    "twoat": "eve@elsewhere.test@team.test",  # not team.test: one address has one @
    "unverified": "unverified@team.test",  # no email_verified claim at all
    "stringly": "stringly@team.test",  # email_verified = "true", a string
}
VERIFIED = {"unverified": None, "stringly": "true"}  # others: the boolean true
SECRET_NAMES = ("calls", "alice", "bob", "carol", "2024-05-01_0", "emoscope.duckdb")


@pytest.fixture(scope="module")
def provider() -> str:
    """The OIDC provider on a free localhost port, in a thread; stopped even when a test fails."""
    import warnings

    # It imports Authlib's deprecated JOSE module: its business. Authlib re-enables its own
    # warning class on every warning, so an "ignore" filter is not enough: record and drop it.
    with warnings.catch_warnings(record=True):
        from oidc_provider_mock import User, run_server_in_thread

    def claims(sub: str, email: str) -> dict:
        verified = VERIFIED.get(sub, True)
        extra = {} if verified is None else {"email_verified": verified}
        return {"email": email, "name": sub.title(), **extra}

    users = [User(sub=sub, claims=claims(sub, email)) for sub, email in USERS.items()]
    with run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory, seeded_db, provider):
    """The dashboard with sign-in over a copy of the seeded database (corpus 'calls')."""
    from core.access.principal import Principal, Role
    from core.access.roles import set_role
    from core.store.database import Store

    folder = tmp_path_factory.mktemp("team")
    db = folder / "emoscope.duckdb"
    shutil.copy(seeded_db, db)
    set_role(Store(db), Principal("admin@team.test", Role.ADMIN), "analyst@team.test", Role.ANALYST)
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        f"""[auth]
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "emoscope-test"
client_secret = "not-a-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[emoscope.access]
allowed_domains = ["team.test"]
admins = ["admin@team.test"]
default_role = "viewer"
"""
    )
    TEAM_DB[0] = db
    yield from start_server(folder, db, "--secrets.files", str(secrets_file))


TEAM_DB: list = [None]  # the team server's database, for tests that change roles under it


def sign_in(page, server: str, sub: str) -> None:
    """Through the real redirect flow: the app, the provider's page, the callback, the app."""
    page.goto(server)
    settle(page)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=sub, exact=True).click()  # the provider's user list
    page.wait_for_url(f"{server}/**")
    settle(page)
    page.get_by_text(f"Signed in as {USERS[sub]}").wait_for()


def sign_out(page, server: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()  # the provider's logout
    page.wait_for_url(f"{server}/**")
    settle(page)
    page.get_by_role("button", name="Sign in").wait_for()


def assert_no_data(page) -> None:
    body = page.inner_text("body")
    for name in SECRET_NAMES:
        assert name not in body, name
    assert page.locator("[data-testid='stDataFrame']").count() == 0
    assert page.locator("[data-testid='stPlotlyChart']").count() == 0


def test_an_anonymous_visitor_gets_the_sign_in_page_and_no_data(page, team_server):
    for path in ("", "/clips", "/trends", "/exports", "/upload", "/admin"):
        page.goto(f"{team_server}{path}")
        settle(page)
        page.get_by_role("button", name="Sign in").wait_for()
        assert "private to its team" in page.inner_text("body")
        assert_no_data(page)
        assert page.locator("[data-testid='stFileUploaderDropzoneInput']").count() == 0
    no_exception(page)
    shoot(page, "signin-1-anonymous")


def test_a_viewer_reads_but_has_no_upload_control(page, team_server):
    sign_in(page, team_server, "viewer")
    assert "viewer@team.test · viewer" in page.inner_text("body")
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Clips" in nav and "Upload" not in nav and "Admin" not in nav
    page.goto(f"{team_server}/clips")
    settle(page)
    page.locator("[data-testid='stDataFrame']").first.wait_for()  # a viewer reads the corpus
    for path, action in (("/upload", "upload and analyse"), ("/admin", "read the audit log")):
        page.goto(f"{team_server}{path}")  # typed URLs: refused by the server, no controls
        settle(page)
        page.get_by_text("viewer@team.test has the viewer role: only").wait_for()
        assert action in page.inner_text("body")
        assert page.locator("[data-testid='stFileUploaderDropzoneInput']").count() == 0
        assert page.get_by_role("button", name="Analyse").count() == 0
        assert page.get_by_role("button", name="Delete corpus").count() == 0
    no_exception(page)
    shoot(page, "signin-2-viewer")


def test_an_outsider_is_refused(page, team_server):
    page.goto(team_server)
    settle(page)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="outsider", exact=True).click()
    page.wait_for_url(f"{team_server}/**")
    settle(page)
    page.get_by_text("eve@elsewhere.test is not on this team's allowlist").wait_for()
    assert_no_data(page)


def test_an_analyst_upload_shows_in_the_admin_audit(page, team_server, encoded):
    sign_in(page, team_server, "analyst")
    upload_and_analyse(page, team_server, [encoded["clip.flac"]], "team-upload")
    page.get_by_text("result.json").wait_for()
    no_exception(page)
    sign_out(page, team_server)
    sign_in(page, team_server, "admin")
    page.goto(f"{team_server}/admin")
    settle(page)
    audit = page.locator("[data-testid='stTable']").first
    audit.wait_for()
    shoot(page, "signin-3-admin-audit")
    row = audit.locator("tr").filter(has_text="analyst@team.test").filter(has_text="upload")
    assert "corpus 'team-upload', 1 file: clip.flac" in row.first.inner_text()
    no_exception(page)


def test_signing_out_ends_the_session(page, team_server):
    sign_in(page, team_server, "viewer")
    page.goto(f"{team_server}/clips")
    settle(page)
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    sign_out(page, team_server)
    assert_no_data(page)
    page.goto(f"{team_server}/clips")  # a fresh load: the cookie is gone too
    settle(page)
    page.get_by_role("button", name="Sign in").wait_for()
    assert_no_data(page)
    assert not any(c["name"].startswith("_streamlit_user") for c in page.context.cookies())


@pytest.mark.parametrize(
    ("sub", "refusal"),
    [
        ("unverified", "Your provider has not verified unverified@team.test"),
        ("stringly", "Your provider has not verified stringly@team.test"),
        ("twoat", "is not one email address (it needs exactly one @)"),
    ],
)
def test_unverified_and_two_at_addresses_are_refused(page, team_server, sub, refusal):
    page.goto(team_server)
    settle(page)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=sub, exact=True).click()
    page.wait_for_url(f"{team_server}/**")
    settle(page)
    page.get_by_text(refusal).wait_for()
    assert_no_data(page)
    assert "Signed in as" not in page.inner_text("body")


CLIPS_CSV = re.compile(r"^clips\.csv \([1-9][\d,]* rows?\)")  # the count depends on earlier tests


def download_url(page, server: str, label=CLIPS_CSV) -> str:
    """Write an export from the Exports page and download it; the URL the browser used."""
    page.goto(f"{server}/exports")
    settle(page)
    return export_and_download(page, label, "emoscope-clips.csv").url


def test_a_cookie_replayed_after_sign_out_is_refused_and_so_are_its_media(page, browser,
                                                                          team_server):  # fmt: skip
    sign_in(page, team_server, "viewer")
    url = download_url(page, team_server)
    assert "/media/" in url and page.request.get(url).status == 200  # the signed-in browser
    stranger = browser.new_context()  # the same URL without the sign-in: no bearer link
    try:
        refused = stranger.request.get(url)
        assert refused.status == 403 and "Sign in first" in refused.text()
    finally:
        stranger.close()
    copied = page.context.cookies()  # what a thief (or a shared machine's history) keeps
    assert any(c["name"] == "_streamlit_user" for c in copied)
    sign_out(page, team_server)
    replay = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        replay.add_cookies(copied)
        tab = replay.new_page()
        tab.set_default_timeout(60_000)
        for path in ("", "/clips", "/exports"):
            tab.goto(f"{team_server}{path}")
            settle(tab)
            tab.get_by_role("button", name="Sign in").wait_for()
            assert "You have been signed out" in tab.inner_text("body")
            assert_no_data(tab)
        assert replay.request.get(url).status == 403  # media of the closed sign-in, too
    finally:
        replay.close()


def test_a_role_removed_before_a_download_stops_it(page, team_server):
    """The rights are read at each click: a file written while the grant held is not handed
    over once it is withdrawn, and no new file is written."""
    from core.access import audit
    from core.access.principal import Principal, Role
    from core.access.roles import remove_role, set_role
    from core.store.database import Store

    store, admin = Store(TEAM_DB[0]), Principal("admin@team.test", Role.ADMIN)
    set_role(store, admin, "guest@elsewhere.test", Role.VIEWER)
    sign_in(page, team_server, "guest")
    page.goto(f"{team_server}/exports")
    settle(page)
    written = audit.read(store, action="export")
    page.get_by_role("button", name=CLIPS_CSV).click()
    download = page.get_by_role("button", name="Download emoscope-clips.csv")
    download.wait_for(timeout=120_000)
    settle(page)
    assert len(audit.read(store, action="export")) == len(written) + 1  # written while granted
    remove_role(store, admin, "guest@elsewhere.test")  # while the Exports page stays open
    download.click()
    error = page.locator("[data-testid='stDownloadButtonError']").first
    error.wait_for()
    assert "guest@elsewhere.test is not on this team's allowlist" in error.inner_text()
    page.get_by_role("button", name=CLIPS_CSV).click()  # the next click is refused as well
    page.get_by_text("guest@elsewhere.test is not on this team's allowlist").first.wait_for()
    assert len(audit.read(store, action="export")) == len(written) + 1  # nothing more written


def put_file(context, server: str, session: str = "0" * 36) -> tuple[int, str]:
    """A PUT to Streamlit's upload route, as the probe sent it: with the XSRF cookie."""
    xsrf = next(c["value"] for c in context.cookies() if c["name"] == "_streamlit_xsrf")
    response = context.request.put(
        f"{server}/_stcore/upload_file/{session}/probe",
        headers={"X-Xsrftoken": xsrf},
        multipart={"file": {"name": "x.bin", "mimeType": "application/octet-stream",
                            "buffer": b"\0" * 1_000_000}},
    )  # fmt: skip
    return response.status, response.text()


def test_uploads_are_refused_before_sign_in_and_to_viewers(page, team_server):
    page.goto(team_server)
    settle(page)
    page.get_by_role("button", name="Sign in").wait_for()
    status, body = put_file(page.context, team_server)
    assert status == 403 and "Sign in first" in body  # not Streamlit's "Invalid session_id"
    sign_in(page, team_server, "viewer")
    status, body = put_file(page.context, team_server)
    assert status == 403 and "viewer@team.test has the viewer role" in body


def test_a_viewer_makes_an_api_token_on_the_page_reads_with_it_and_revokes_it(page, team_server):
    import httpx

    sign_in(page, team_server, "viewer")
    page.goto(f"{team_server}/tokens")
    settle(page)
    page.get_by_label("Name (what the token is for)").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("Copy it now").wait_for()
    token = page.locator("[data-testid='stCode'] code").first.inner_text().strip()
    shoot(page, "signin-4-api-token")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{team_server}/api/clips", headers=headers).json()["total"] == 12
    refused = httpx.post(f"{team_server}/api/corpora/x/recordings", headers=headers,
                         files=[("files", ("a.wav", b"RIFF"))])  # fmt: skip
    assert refused.status_code == 403
    page.reload()
    settle(page)
    assert token not in page.inner_text("body")  # shown once
    page.get_by_role("button", name="Revoke").click()
    # settle() alone can look before the click's rerun has begun: wait for the page to show the
    # revocation (no live token left to revoke) before asking the API.
    page.get_by_role("button", name="Revoke").wait_for(state="detached", timeout=180_000)
    settle(page)
    assert httpx.get(f"{team_server}/api/clips", headers=headers).status_code == 401
    no_exception(page)
