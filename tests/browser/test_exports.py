"""End to end in Chromium: an export is written by DuckDB in a background job when its button is
clicked (#30), a bar shows its rows written, and the downloaded file holds every row with lists
kept as lists."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.browser.driving import (
    export_and_download,
    no_exception,
    settle,
)


@pytest.mark.parametrize(("label", "rows"), [("clips.parquet (12 rows)", 12),
                                             ("embeddings.parquet (12 rows)", 12),
                                             ("clips.csv (12 rows)", 12)])  # fmt: skip
def test_an_export_downloads_on_click(page, server, seeded_model, tmp_path, label, rows):
    page.goto(f"{server}/exports?model={seeded_model}")
    settle(page)
    name = f"emoscope-{label.split(' ')[0]}"
    download = export_and_download(page, label, name)
    assert download.suggested_filename == name
    ready = page.get_by_text(f"{label.split(' ')[0]} is ready: {rows} rows")
    assert ready.count() == 1
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    if saved.suffix == ".csv":
        frame = pd.read_csv(saved)
        assert len(frame) == rows and frame.tags.isna().all()  # no tags: an empty joined string
        return
    table = pq.read_table(saved)
    assert table.num_rows == rows
    if label.startswith("clips"):
        assert table.schema.field("tags").type == pa.list_(pa.string())
        assert set(table.column("agent").to_pylist()) == {"alice", "bob", "carol"}
    else:
        assert len(table.column("embedding")[0].as_py()) == 64
    no_exception(page)


def test_an_export_shows_its_progress_and_a_newer_one_replaces_it(page, server, seeded_model,
                                                                   tmp_path):  # fmt: skip
    """The bar reads rows written of the rows selected; the second export's file is the one
    downloaded, and the first one's button is gone."""
    page.goto(f"{server}/exports?model={seeded_model}")
    settle(page)
    page.get_by_role("button", name="clips.csv (12 rows)").click()
    # the bar, or (on a fast machine) the finished line that follows it
    page.get_by_text(
        re.compile(r"clips\.csv: (selecting|\d+ of 12 rows)|clips\.csv is ready")
    ).first.wait_for()
    page.get_by_role("button", name="Download emoscope-clips.csv").wait_for(timeout=120_000)
    download = export_and_download(page, "clips.parquet (12 rows)", "emoscope-clips.parquet")
    assert page.get_by_role("button", name="Download emoscope-clips.csv").count() == 0
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert pq.read_table(saved).num_rows == 12
    no_exception(page)


def test_an_agent_link_from_the_overview_opens_its_trend(page, server, seeded_model):
    page.goto(f"{server}/trends?model={seeded_model}&agent=bob&period=month&focus=happy")
    settle(page)
    page.get_by_text("share of 😊 happy clips").first.wait_for()
    assert page.get_by_role("radio", name="month").is_checked()
    no_exception(page)
