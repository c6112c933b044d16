"""Needs attention in Chromium (#30): at 1440 x 900 the planted agent is listed above the fold
of the landing page, and its Clips link opens exactly the clips behind the item."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pandas as pd

from core.store.database import Store
from tests.analysis.test_attention import PLANTED, WEEKS, planted_rows, this_monday, write_rows
from tests.browser.driving import SHOTS, no_exception, settle, start_server

NEGATIVE = ["angry", "disgusted", "fearful", "sad"]


def test_needs_attention_is_above_the_fold_and_opens_its_clips(browser, tmp_path):
    start = this_monday() - timedelta(weeks=WEEKS)
    week = start + timedelta(weeks=WEEKS - 1)  # the last complete week: the planted rise
    rows = planted_rows(start=start)
    db = tmp_path / "emoscope.duckdb"
    write_rows(Store(db), "calls", rows)
    server = start_server(tmp_path, db)
    url = next(server)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url)
        settle(page)
        main = page.locator("[data-testid='stMain']")
        heading = main.get_by_role("heading", name=re.compile("Needs attention"))
        heading.wait_for()
        assert f"week of {week:%Y-%m-%d}" in heading.inner_text()
        first = main.locator("[data-testid='stText']").first
        assert first.inner_text().startswith(f"{PLANTED} · ")
        link = main.locator("a").filter(has_text=re.compile(r"^\W*Clips$")).first
        for element in (heading, first, link):  # on screen without scrolling
            box = element.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900, box
        assert page.evaluate("window.scrollY") == 0
        no_exception(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "needs-attention-1440x900.png"))  # the viewport only
        emotion = "negative" if "negative" in first.inner_text() else "angry"
        link.click()
        page.wait_for_url(re.compile(r"/clips\?"))
        settle(page)
        caption = main.get_by_text(re.compile(r"Clips \(tracks\) matching the filters"))
        caption.wait_for()
        days = rows.recorded_at.dt.normalize()
        expected = rows[(rows.agent == PLANTED) & rows.track.isin(["customer", "mix"])
                        & (days >= pd.Timestamp(week)) & (days < pd.Timestamp(week + timedelta(7)))
                        & rows.emotion.isin(NEGATIVE if emotion == "negative" else [emotion])]  # fmt: skip
        matched = re.search(r"filters: ([\d,]+)", caption.inner_text()).group(1)
        assert int(matched.replace(",", "")) == len(expected) > 0
        assert f"agent={PLANTED}" in page.url and "emotion=angry" in page.url
        no_exception(page)
    finally:
        context.close()
        server.close()
        shutil.rmtree(tmp_path / "media", ignore_errors=True)
