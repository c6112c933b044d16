"""The API behind sign-in: personal tokens against the real server with `[auth]` configured (the
local OpenID Connect provider of the sign-in tests): 401 without a valid token, a token acting
with its owner's current role, 403 for a viewer's upload, and the audit of what tokens did."""

from __future__ import annotations

import secrets
import shutil

import duckdb
import httpx
import pytest

from core.access.principal import Principal, Role
from tests.api.server import running
from tests.browser.test_signin import USERS, provider

__all__ = ["provider"]  # the fixture, used below
pytestmark = pytest.mark.slow
ADMIN = Principal("admin@team.test", Role.ADMIN)


@pytest.fixture(scope="module")
def team(tmp_path_factory, seeded_db, tiny_model_dir, provider):
    """(URL, database) of the server with sign-in over a copy of the seeded database."""
    from core.access.roles import set_role
    from core.store.database import Store

    folder = tmp_path_factory.mktemp("team-api")
    db = folder / "emoscope.duckdb"
    shutil.copy(seeded_db, db)
    set_role(Store(db), ADMIN, USERS["analyst"], Role.ANALYST)
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        f"""[auth]
redirect_uri = "http://127.0.0.1:8501/oauth2callback"
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
    with running(folder, db, tiny_model_dir, "--secrets.files", str(secrets_file)) as url:
        yield url, db


def token_for(db, email: str, by: Principal | None = None) -> str:
    """A token as its owner creates it on the page (or an admin for them)."""
    from core.access.tokens import create
    from core.store.database import Store

    who = by or Principal(email, Role.VIEWER)
    return create(Store(db), who, "tests", 30, owner=email).secret


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(url: str, token: str, wav) -> httpx.Response:
    return httpx.post(f"{url}/api/corpora/by-token/recordings", headers=bearer(token),
                      files=[("files", (wav.name, wav.read_bytes()))], timeout=60)  # fmt: skip


@pytest.mark.parametrize("path", ["/api/clips", "/api/overview", "/api/jobs/api-x"])
def test_no_token_gets_401_with_json(team, path):
    url, _ = team
    response = httpx.get(f"{url}{path}")
    assert response.status_code == 401
    assert "token" in response.json()["error"]
    assert "x-emoscope-access" not in response.headers


def test_a_predict_without_token_gets_401(team, corpus_dir):
    url, _ = team
    wav = corpus_dir / "alice" / "2024-05-01_0.wav"
    response = httpx.post(f"{url}/api/predict", files={"audio": (wav.name, wav.read_bytes())})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("token", ["emo_not-a-real-token", "nonsense", "emo_"])
def test_an_unknown_token_gets_401(team, token):
    url, _ = team
    response = httpx.get(f"{url}/api/clips", headers=bearer(token))
    assert response.status_code == 401 and "error" in response.json()


def test_a_viewer_token_reads_but_is_refused_an_upload(team, corpus_dir):
    url, db = team
    token = token_for(db, USERS["viewer"])
    page = httpx.get(f"{url}/api/clips", headers=bearer(token), params={"corpus": "calls"})
    assert page.status_code == 200 and page.json()["total"] == 12
    assert "x-emoscope-access" not in page.headers
    wav = corpus_dir / "alice" / "2024-05-01_0.wav"
    refused = upload(url, token, wav)
    assert refused.status_code == 403
    assert "viewer role" in refused.json()["error"]
    stored = httpx.post(f"{url}/api/predict", headers=bearer(token), data={"corpus": "mine"},
                        files={"audio": (wav.name, wav.read_bytes())})  # fmt: skip
    assert stored.status_code == 403
    quick = httpx.post(f"{url}/api/predict", headers=bearer(token),
                       files={"audio": (wav.name, wav.read_bytes())}, timeout=120)  # fmt: skip
    assert quick.status_code == 200 and quick.json()["emotion"]


def test_a_token_acts_with_its_owner_current_role(team, corpus_dir):
    from core.access.roles import remove_role, set_role
    from core.store.database import Store

    url, db = team
    email = "later@team.test"
    token = token_for(db, email)
    wav = corpus_dir / "bob" / "2024-05-02_0.wav"
    assert upload(url, token, wav).status_code == 403  # default_role viewer
    set_role(Store(db), ADMIN, email, Role.ANALYST)
    accepted = upload(url, token, wav)
    assert accepted.status_code == 202
    job_url = accepted.json()["status_url"]
    state = httpx.get(f"{url}{job_url}", headers=bearer(token)).json()
    assert state["job"] == accepted.json()["job"]
    other = token_for(db, USERS["viewer"])  # someone else's job is not theirs to see
    assert httpx.get(f"{url}{job_url}", headers=bearer(other)).status_code == 404
    remove_role(Store(db), ADMIN, email)
    assert upload(url, token, wav).status_code == 403


def test_an_analyst_upload_and_export_are_audited_under_the_owner(team, corpus_dir):
    from core.access.audit import read
    from core.store.database import Store
    from tests.api.test_api import wait_for

    url, db = team
    token = token_for(db, USERS["analyst"])
    accepted = upload(url, token, corpus_dir / "carol" / "2024-05-03_0.wav")
    assert accepted.status_code == 202
    client = httpx.Client(headers=bearer(token), timeout=60)
    assert wait_for(url, accepted.json()["status_url"], client)["finished"]
    csv = client.get(f"{url}/api/clips", params={"format": "csv"})
    assert csv.status_code == 200
    log = read(Store(db), 50)
    mine = log[log.user_name == USERS["analyst"]]
    assert {"create_token", "export", "upload"} <= set(mine.action)
    assert "API, corpus 'by-token'" in mine[mine.action == "upload"].detail.iloc[0]


def test_a_revoked_or_expired_token_gets_401(team):
    from core.access.tokens import listed, revoke
    from core.store.database import Store

    url, db = team
    token = token_for(db, USERS["viewer"])
    assert httpx.get(f"{url}/api/clips", headers=bearer(token)).status_code == 200
    store = Store(db)
    newest = int(listed(store, Principal(USERS["viewer"], Role.VIEWER)).token_id.iloc[0])
    assert revoke(store, ADMIN, newest)  # an admin revokes anyone's
    assert httpx.get(f"{url}/api/clips", headers=bearer(token)).status_code == 401
    expiring = token_for(db, USERS["viewer"])
    con = duckdb.connect(str(db))  # the server holds no connection between requests
    con.execute("UPDATE api_tokens SET expires_at = TIMESTAMP '2020-01-01' WHERE token_id = "
                "(SELECT max(token_id) FROM api_tokens)")  # fmt: skip
    con.close()
    assert httpx.get(f"{url}/api/clips", headers=bearer(expiring)).status_code == 401


def test_an_outsider_token_gets_403(team):
    url, db = team
    token = token_for(db, USERS["outsider"])
    response = httpx.get(f"{url}/api/clips", headers=bearer(token))
    assert response.status_code == 403 and "allowlist" in response.json()["error"]
