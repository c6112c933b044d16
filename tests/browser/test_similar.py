"""Similar recordings in Chromium (#27): the Clips toggle and its "How many" in the URL, a
result row opening its clip with the filters and the search kept, and Compare on Frame curves."""

from __future__ import annotations

import re

import pytest

from core.store.clips import select_clips
from tests.browser.driving import no_exception, settle
from tests.browser.test_navigation import select_row, url_matches

pytestmark = pytest.mark.browser


def test_similar_recordings_open_their_clips_and_keep_the_url(page, server, seeded_model,
                                                              seeded_db):  # fmt: skip
    from core.store.database import ClipFilter, Store

    clips = select_clips(Store(seeded_db), seeded_model, ClipFilter(agents=("bob",)))
    first = clips.iloc[0]
    page.goto(f"{server}/clips?model={seeded_model}&agent=bob&clip={first.clip_id}&track=mix")
    settle(page)
    page.get_by_text("Similar recordings").click()  # the toggle
    settle(page)
    url_matches(page, r"sim=1")
    page.get_by_text("Cosine similarity of embeddings").wait_for()
    grids = page.locator("[data-testid='stDataFrame']")
    grids.nth(1).wait_for()  # the open clip's similar list, above the table of clips
    assert grids.count() == 2
    similar = page.locator(f".st-key-similar-{first.clip_id}-mix [data-testid='stDataFrame']")
    assert similar.bounding_box()["y"] < grids.nth(1).bounding_box()["y"]
    select_row(page, similar, 0)
    url_matches(page, r"clip=(?!" + first.clip_id + ")")
    settle(page)
    assert "agent=bob" in page.url and "sim=1" in page.url
    opened = re.search(r"clip=([0-9a-f]{64})", page.url).group(1)
    assert opened in set(clips.clip_id) and opened != first.clip_id  # within the filter
    no_exception(page)

    page.reload()  # the copied URL opens the same view, the list shown again
    settle(page)
    page.get_by_text("Cosine similarity of embeddings").wait_for()
    no_exception(page)


def test_compare_shows_cosine_and_scores_side_by_side(page, server, seeded_model, seeded_db):
    from core.store.database import Store

    clips = select_clips(Store(seeded_db), seeded_model)
    a, b = clips.clip_id.iloc[0], clips.clip_id.iloc[1]
    page.goto(f"{server}/frames?model={seeded_model}&clip={a}&track=mix&vs={b}%7Cmix")
    settle(page)
    page.get_by_text("Cosine similarity").first.wait_for()
    body = page.inner_text("body")
    assert "A and B on one time axis" in body or page.locator("canvas").count() >= 3
    assert re.search(r"Cosine similarity\s+0\.\d{4}", body)
    no_exception(page)
