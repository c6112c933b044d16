"""End to end: the real Streamlit server driven by Debian's headless Chromium through Playwright.

Screenshots of every page land in test-artifacts/screenshots/ (git-ignored, kept by CI).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.store.clips import select_clips
from tests.browser.driving import (
    SERVER_PIDS,
    analyse,
    compute_projection,
    fill_upload,
    no_exception,
    settle,
    shoot,
    start_server,
    upload_and_analyse,
    wait_until_the_uploader_is_empty,
)


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


def test_upload_a_file_and_see_its_result(page, server, encoded):
    upload_and_analyse(page, server, [encoded["clip.m4a"]], "browser")
    page.get_by_text("aac").first.wait_for(state="attached")  # file info, shown before running
    page.get_by_text("result.json").wait_for()
    page.locator("[data-testid='stEChartsChart']").first.wait_for()  # the 9-score bars
    body = page.inner_text("body")
    assert "Scored" in body and "untrained test model" in body
    assert page.get_by_role("button", name="embedding.npy").count() == 1
    no_exception(page)
    shoot(page, "1-upload")


def test_a_new_user_uploads_several_files_with_a_name_pattern_and_sees_trends(
    page, server, tmp_path
):
    import soundfile as sf

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
    # The run's own links: the page's default model is the team's (#30), not this run's.
    page.get_by_role("link", name="Agent trends of march").click()
    page.wait_for_url(re.compile(r"/trends\?.*corpus=march.*model=test-model"))
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
        ("clips", "Clips (tracks) matching the filters", "2-clips"),
        ("frames", "frames of 20 ms", "3-frames"),
        ("trends", "share of", "5-trends"),
        ("exports", "clips.parquet (12 rows)", "6-exports"),
    ],
)
def test_page_shows_data(page, server, server_db, seeded_model, path, expected, name):
    query = f"?model={seeded_model}"
    if path == "frames":  # a clip with two lines of transcript (#26)
        clip_id, duration_s = plant_lines(server_db, seeded_model)
        query += f"&clip={clip_id}&track=mix"
    page.goto(f"{server}/{path}{query}")
    settle(page)
    page.get_by_text(expected).first.wait_for()
    if path == "frames":  # the curve, drawn by ECharts on a canvas, the lines under it
        chart = page.locator("[data-testid='stEChartsChart']").first
        chart.locator("canvas").first.wait_for()
        assert chart.get_attribute("aria-label").endswith("; 2 lines said (mix)")
        page.get_by_text("What was said: pick a line").wait_for()
        grid = page.locator("[data-testid='stDataFrame']").first  # the lines, then the runs
        expect(grid).to_contain_text("thanks for calling")  # its screen-reader table
        expect(grid).to_contain_text("Laughter")  # SenseVoice's event, as a tag
        click_band(page, chart, (2.1 + duration_s - 0.2) / 2, duration_s)  # the second line
        page.wait_for_function(
            "() => document.querySelector('audio')?.currentTime === 2", polling=100
        )
    if path in ("clips", "trends"):
        page.locator("[data-testid='stDataFrame']").first.wait_for()
    no_exception(page)
    shoot(page, name)


def plant_lines(db, model_key: str) -> tuple[str, float]:
    """Two transcript lines (the first with laughter) on a seeded clip of at least 3 s, written
    as an ingest would (core.store.transcripts); its clip id and duration."""
    from core.store import transcripts
    from core.store.database import Store
    from core.store.transcripts import SegmentRow

    store = Store(db)
    clip = select_clips(store, model_key).query("duration_s >= 3").iloc[0]
    end = float(clip.duration_s) - 0.2
    transcripts.write(store, "planted", None, [(clip.clip_id, "mix", [
        SegmentRow(0.2, 1.0, "thanks for calling", "en", "happy", ("laughter",), ()),
        SegmentRow(2.1, end, "you are welcome", "en", None, (), ()),
    ])])  # fmt: skip
    return clip.clip_id, float(clip.duration_s)


def click_band(page, chart, at_s: float, axis_s: float) -> None:
    """Click the single row of bands under a Frame curves chart at `at_s` seconds, the time axis
    running to about `axis_s` (dashboard.curve_charts: grid 56 px from the left, 16 from the
    right; the bands' row 324 px from the top, 44 px high)."""
    box = chart.locator("canvas").first.bounding_box()
    x = box["x"] + 56 + (box["width"] - 72) * at_s / axis_s
    page.mouse.click(x, box["y"] + 324 + 22)


def test_clusters_compute_and_profile(page, server, seeded_model):
    compute_projection(page, server, seeded_model)
    page.locator("[data-testid='stEChartsChart'] canvas").nth(1).wait_for()  # map and mix
    no_exception(page)
    shoot(page, "4-clusters")


def test_a_clip_opens_from_a_shared_url(page, server, seeded_db, seeded_model):
    from core.store.database import Store

    clip = select_clips(Store(seeded_db), seeded_model).iloc[0]
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
