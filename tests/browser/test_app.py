"""End to end: the real Streamlit server driven by Debian's headless Chromium through Playwright.

Screenshots of every page land in test-artifacts/screenshots/ (git-ignored, kept by CI).
"""

from __future__ import annotations

import re
import shutil
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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian chromium missing: scripts/setup.sh --dev"
    ),
]


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


@pytest.fixture(scope="module")
def server(tmp_path_factory, seeded_db):
    """The dashboard over a copy of the seeded database."""
    folder = tmp_path_factory.mktemp("server")
    db = folder / "emoscope.duckdb"
    shutil.copy(seeded_db, db)
    yield from start_server(folder, db)


def test_a_server_stopped_early_does_not_outlive_its_test(tmp_path):
    """close() on start_server's generator (a test that ends without exhausting it) stops the
    server process: a leaked dashboard holds ~700 MB for the rest of the suite."""
    import os

    server = start_server(tmp_path, tmp_path / "emoscope.duckdb")
    url = next(server)
    pid = SERVER_PIDS[url]
    server.close()
    assert url not in SERVER_PIDS
    with pytest.raises(ProcessLookupError):  # terminated and reaped
        os.kill(pid, 0)


@pytest.fixture(scope="module")
def seeded_model(seeded_db) -> str:
    from core.store.database import Store

    return str(Store(seeded_db).models().model_key[0])


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000
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
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stFileChip']\")")


def analyse(page, wait: bool = True) -> None:
    """Click Analyse (`wait`: until the results show)."""
    page.get_by_role("button", name="Analyse").click()
    if wait:
        page.get_by_text("Processing log").wait_for(timeout=240_000)
        settle(page)


def test_upload_a_file_and_see_its_result(page, server, encoded):
    upload_and_analyse(page, server, [encoded["clip.m4a"]], "browser")
    page.get_by_text("aac").first.wait_for(state="attached")  # file info, shown before running
    page.get_by_text("result.json").wait_for()
    page.locator("[data-testid='stPlotlyChart']").first.wait_for()  # the 9-score bars
    body = page.inner_text("body")
    assert "Scored" in body and "untrained test model" in body
    assert page.get_by_role("button", name="embedding.npy").count() == 1
    no_exception(page)
    shoot(page, "1-upload")


def test_a_new_user_uploads_several_files_with_a_name_pattern_and_sees_trends(
    page, server, tmp_path
):
    import soundfile as sf
    from playwright.sync_api import expect

    from tests.conftest import speechlike

    files = []
    for i, (agent, day) in enumerate(
        [("ann", 4), ("ann", 12), ("ben", 5), ("ben", 13), ("ann", 20), ("ben", 21)]
    ):
        files.append(tmp_path / f"{agent}_2024-03-{day:02d}.wav")
        sf.write(files[-1], speechlike(1.5, seed=100 + i), 16_000)
    upload_and_analyse(page, server, files, "march", pattern="{agent}_{recorded_at}.wav")
    scored = page.locator("[data-testid='stMetric']").filter(has_text="Scored").inner_text()
    assert scored.split() == ["Scored", "6"]
    page.goto(f"{server}/trends?corpus=march")
    settle(page)
    page.get_by_text("share of").first.wait_for()
    grid = page.locator("[data-testid='stDataFrame']").first
    # ann and ben by week, from the week of 4 March (the grid's cells are also in an offscreen
    # table for screen readers, filled once the grid has drawn)
    expect(grid).to_contain_text(re.compile(r"^agent2024-03-04.*ann.*ben"))
    no_exception(page)
    shoot(page, "5-trends-after-upload")


@pytest.mark.parametrize(
    ("path", "expected", "name"),
    [
        ("clips", "clips (tracks) match the filters", "2-clips"),
        ("frames", "frames of 20 ms", "3-frames"),
        ("trends", "share of", "5-trends"),
        ("exports", "clips.parquet (12 rows)", "6-exports"),
    ],
)
def test_page_shows_data(page, server, seeded_model, path, expected, name):
    page.goto(f"{server}/{path}?model={seeded_model}")
    settle(page)
    page.get_by_text(expected).first.wait_for()
    if path == "frames":  # the curve, drawn by ECharts on a canvas
        page.locator("[data-testid='stEChartsChart'] canvas").first.wait_for()
    if path in ("clips", "trends"):
        page.locator("[data-testid='stDataFrame']").first.wait_for()
    no_exception(page)
    shoot(page, name)


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


def test_clusters_compute_and_profile(page, server, seeded_model):
    compute_projection(page, server, seeded_model)
    page.locator("[data-testid='stEChartsChart'] canvas").nth(1).wait_for()  # map and mix
    no_exception(page)
    shoot(page, "4-clusters")


def test_a_clip_opens_from_a_shared_url(page, server, seeded_db, seeded_model):
    from core.store.database import Store

    clip = Store(seeded_db).clips(seeded_model).iloc[0]
    page.goto(f"{server}/clips?model={seeded_model}&clip={clip.clip_id}&track=mix")
    settle(page)
    page.get_by_text(clip.source_name).first.wait_for()
    page.locator("audio").first.wait_for(state="attached")
    no_exception(page)
    shoot(page, "2-clips-selected")


def test_an_upload_over_the_size_limit_is_refused_and_the_rest_analysed(page, tmp_path):
    """A deployment with `server.maxUploadSize = 1` (MB): the big file is named and refused."""
    import soundfile as sf

    from tests.conftest import speechlike

    big, good = tmp_path / "all-hands-recording.wav", tmp_path / "short-call.wav"
    sf.write(big, speechlike(45.0, seed=1), 16_000)  # 1.4 MB
    sf.write(good, speechlike(2.0, seed=2), 16_000)
    server = start_server(tmp_path, tmp_path / "limit.duckdb", "--server.maxUploadSize", "1")
    url = next(server)
    try:
        fill_upload(page, url, [big, good], "limited")
        refused = page.locator("[data-testid='stFileChip'][aria-invalid='true']")
        assert refused.count() == 1
        assert refused.get_attribute("aria-label").startswith(big.name)
        assert (
            refused.get_by_role("alert").text_content() == "Error: File must be 1.0MB or smaller."
        )
        assert "Up to 1 MB per file" in page.inner_text("body")  # the limit, before any upload
        analyse(page)
        # Done: the uploader is empty again, so the server no longer holds the uploaded bytes.
        wait_until_the_uploader_is_empty(page)
        log = page.locator("[data-testid='stCode']").text_content()  # in a closed expander
        assert good.name in log and big.name not in log
        assert (
            page.locator("[data-testid='stMetric']")
            .filter(has_text="Scored")
            .inner_text()
            .endswith("1")
        )
        no_exception(page)
        shoot(page, "7-upload-limit")
    finally:
        server.close()
