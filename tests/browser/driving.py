"""Driving the real server in Chromium: start a server on a free port, wait for a page to settle,
upload and analyse as a user does, compute a projection, take screenshots."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_PIDS: dict[str, int] = {}  # URL -> process id of each running server (memory benchmarks)


def start_server(folder: Path, db: Path, *options: str) -> Iterator[str]:
    """The dashboard over `db` on a free localhost port; yields its URL, stops it afterwards."""
    port = free_port()
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.serve",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         *options],
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "EMOSCOPE_DB": str(db),
                       "EMOSCOPE_THREADS": "2"},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(
                    "streamlit did not start:\n" + (folder / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
    SERVER_PIDS[url] = process.pid
    try:
        yield url
    finally:  # also on close(): a test that stops the generator early must not leak its server
        SERVER_PIDS.pop(url, None)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # never leave a server behind, even a stuck one
            process.kill()
            process.wait(timeout=20)
        from core.store.export import remove_stale_temp

        remove_stale_temp()  # its exports' files: SIGTERM skips the server's exit handlers (#30)


def settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    # Polled every 100 ms, not on every animation frame (Playwright's default): a frame-rate
    # poll keeps Chromium busy for as long as a page takes, and the suite is CPU-bound.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=180_000,
        polling=100,
    )


def no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.inner_text("body")


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def upload_and_analyse(page, server, files: list[Path], corpus: str, pattern: str = "",
                       wait: bool = True) -> None:  # fmt: skip
    """Fill the upload page as a user would, with the untrained test model, and run it
    (`wait`: until its results show)."""
    fill_upload(page, server, files, corpus, pattern)
    analyse(page, wait)


def fill_upload(page, server, files: list[Path], corpus: str, pattern: str = "") -> None:
    """Open the upload page, choose the files, corpus, pattern and the untrained test model."""
    page.goto(f"{server}/upload")
    settle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        [str(f) for f in files]
    )
    page.get_by_text(files[-1].name).first.wait_for(state="attached")  # the file-info table
    fields = [("Corpus", corpus)] + ([("…or metadata from file names", pattern)] if pattern else [])
    for label, value in fields:
        page.get_by_role("textbox", name=label).fill(value)
        page.get_by_role("textbox", name=label).press("Enter")
    settle(page)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Model").click()
    page.get_by_role("option", name="untrained test model").click()
    settle(page)


def wait_until_the_uploader_is_empty(page) -> None:
    """After an analysis the uploader is emptied (the server drops the files); wait for it."""
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='stFileChip']\")", polling=100
    )


def analyse(page, wait: bool = True) -> None:
    """Click Analyse (`wait`: until the results show)."""
    page.get_by_role("button", name="Analyse").click()
    if wait:
        page.get_by_text("Processing log").wait_for(timeout=240_000)
        settle(page)


def compute_projection(page, server, model_key: str) -> None:
    """Open Clusters and compute the projection as a user does, until its profiles show.

    Another test may have stored it already (the seeded database is shared): then it opens.
    """
    page.goto(f"{server}/clusters?model={model_key}")
    settle(page)
    show_projection(page)


def show_projection(page) -> None:
    """Compute the projection these settings name unless it is stored; wait for its profiles."""
    compute = page.get_by_role("button", name="Compute projection")
    compute.or_(page.get_by_text("Cluster profiles")).first.wait_for()
    if compute.count():
        compute.click()
    page.get_by_text("Cluster profiles").wait_for(timeout=240_000)
    settle(page)


def export_and_download(page, label, name: str):
    """Click an Exports button (`label`), wait for the file to be written in the background,
    then click its download button as a user does; the Playwright download (#30)."""
    page.get_by_role("button", name=label).click()
    button = page.get_by_role("button", name=f"Download {name}")
    button.wait_for(timeout=120_000)
    settle(page)  # a click during a rerun may hold the button's last file id, revoked by it
    with page.expect_download(timeout=120_000) as download:
        button.click()
    return download.value
