"""End to end in Chromium: an export is built by DuckDB only when its button is clicked, and the
downloaded file holds every row with lists kept as lists."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.browser.driving import (
    no_exception,
    settle,
)


@pytest.mark.parametrize(("label", "rows"), [("clips.parquet (12 rows)", 12),
                                             ("embeddings.parquet (12 rows)", 12),
                                             ("clips.csv (12 rows)", 12)])  # fmt: skip
def test_an_export_downloads_on_click(page, server, seeded_model, tmp_path, label, rows):
    page.goto(f"{server}/exports?model={seeded_model}")
    settle(page)
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name=label).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
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


def test_an_agent_link_from_the_overview_opens_its_trend(page, server, seeded_model):
    page.goto(f"{server}/trends?model={seeded_model}&agent=bob&period=month&focus=happy")
    settle(page)
    page.get_by_text("share of 😊 happy clips").first.wait_for()
    assert page.get_by_role("radio", name="month").is_checked()
    no_exception(page)
