"""Server memory after an anonymous visitor's upload PUTs (#31, the outside probe's case).

    .venv/bin/python bench/anonymous_upload_rss.py [REPO_ROOT]

Starts the dashboard of REPO_ROOT (default: this checkout) with sign-in configured (a local
oidc-provider-mock) over an empty database, opens the sign-in screen in Chromium, takes that
session's id (from the server's debug log) and XSRF cookie, PUTs 2 x 200 MB to
/_stcore/upload_file/<session>/…, and prints the server's RSS before, right after and 10 s
after, with each PUT's status.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main(root: Path) -> None:
    import warnings

    with warnings.catch_warnings(record=True):
        from oidc_provider_mock import User, run_server_in_thread
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(HERE))
    from tests.browser.driving import CHROMIUM, free_port

    folder = Path(tempfile.mkdtemp(prefix="upload-rss-"))
    blob = folder / "blob.bin"
    with blob.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # 200 MB of zeros, sparse on disk
    users = [User(sub="viewer", claims={"email": "v@team.test", "email_verified": True})]
    with run_server_in_thread(port=0, user_claims=users) as idp:
        port = free_port()
        (folder / "secrets.toml").write_text(f"""[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "rss"
client_secret = "x"
server_metadata_url = "http://localhost:{idp.server_port}/.well-known/openid-configuration"
[emoscope.access]
allowed_domains = ["team.test"]
""")
        log = (folder / "server.log").open("w")
        server = subprocess.Popen(
            [str(HERE / ".venv/bin/python"), "-m", "dashboard.serve", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--logger.level", "debug", "--secrets.files", str(folder / "secrets.toml")],
            cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env={"PATH": "/usr/bin:/bin", "HOME": str(folder),
                 "EMOSCOPE_DB": str(folder / "emoscope.duckdb")},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                page = browser.new_page()
                page.goto(url)
                page.get_by_role("button", name="Sign in").wait_for(timeout=120_000)
                time.sleep(2)
                xsrf = next(c["value"] for c in page.context.cookies()
                            if c["name"] == "_streamlit_xsrf")  # fmt: skip
                ids = re.findall(r"AppSession initialized \(id=([0-9a-f-]+)\)",
                                 (folder / "server.log").read_text())  # fmt: skip
                session = ids[-1]
                before = rss_mb(server.pid)
                statuses = []
                with httpx.Client(timeout=600, cookies={"_streamlit_xsrf": xsrf}) as client:
                    for i in range(2):
                        with blob.open("rb") as data:
                            r = client.put(f"{url}/_stcore/upload_file/{session}/probe-{i}",
                                           headers={"X-Xsrftoken": xsrf, "Origin": url},
                                           files={"file": (f"p{i}.bin", data)})  # fmt: skip
                        statuses.append(f"{r.status_code} {r.text[:60]!r}")
                after = rss_mb(server.pid)
                time.sleep(10)
                later = rss_mb(server.pid)
                browser.close()
            print(f"code: {root}")
            print(f"PUTs: {statuses}")
            print(
                f"server RSS: {before:.0f} MB before, {after:.0f} MB after, {later:.0f} MB 10 s later"
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            for f in folder.iterdir():
                f.unlink() if f.is_file() else None
    os.sync()


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE)
