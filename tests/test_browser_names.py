"""Hostile names through every page in Chromium: shown as typed, never a link or markup (#14)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from core.columns import BatchColumns
from core.records import ClipRecord, FileOutcome, ScoredTrack
from core.store import Store
from tests.test_browser import (  # noqa: F401  (fixtures)
    browser,
    no_exception,
    page,
    settle,
    shoot,
    start_server,
)

pytestmark = pytest.mark.browser

FILE = "[login](https://evil.example/login) **bold** $x^2$ \u202eevil.wav"
AGENT = "<a href='https://evil.example/agent'>agent</a>"
CORPUS = "[corp](https://evil.example/corpus)"
# Each page, and what it shows once its script has run to the end with these names in it.
PAGES = {
    "": ".js-plotly-plot",  # Overview: the emotion mix
    "upload": "[data-testid='stFileUploaderDropzone']",
    "clips": "h3:has-text('login')",  # the opened clip's heading
    "frames": ".js-plotly-plot",
    "clusters": "[data-testid='stButton']",  # Compute projection
    "trends": ".js-plotly-plot",  # the heatmap, agents on its axis
    "exports": "[data-testid='stButton'], [data-testid='stDownloadButton']",
}


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """The dashboard over a database whose file, agent and corpus names are hostile."""
    folder = tmp_path_factory.mktemp("hostile")
    store = Store(folder / "emoscope.duckdb")
    store.register_model("hostile@1", "hostile", "1", 4, untrained=True)
    run = store.start_run(CORPUS, "hostile@1", 8)
    rng = np.random.default_rng(3)
    start = datetime(2024, 5, 6)
    clips, tracks, outcomes = [], [], []
    for i in range(8):
        name = FILE if i == 0 else f"clip{i}.wav"
        clip_id = f"{i:064x}"
        clips.append(ClipRecord(clip_id, name, None, 2.0, 16_000, 1, "pcm_s16le", 64_000,
                                agent=AGENT if i % 2 else "bob",
                                recorded_at=start + timedelta(days=7 * (i // 2))))  # fmt: skip
        logits = rng.standard_normal((100, 9)).astype(np.float32)
        scores = np.exp(logits.mean(0)) / np.exp(logits.mean(0)).sum()
        tracks.append(ScoredTrack(clip_id, "mix", scores.astype(np.float32),
                                  rng.standard_normal(4).astype(np.float32), logits))  # fmt: skip
        outcomes.append(FileOutcome(name, "scored", clip_id, 2.0))
    store.write_columns(run, CORPUS, "hostile@1", 4, BatchColumns.of(4, clips, tracks, outcomes))
    store.finish_run(run)
    yield from start_server(folder, store.path)


@pytest.mark.parametrize("path", PAGES)
def test_hostile_names_render_as_text_on_every_page(page, hostile_server, path):  # noqa: F811
    query = f"?clip={0:064x}" if path in ("clips", "frames") else ""
    page.goto(f"{hostile_server}/{path}{query}")
    page.wait_for_selector(PAGES[path])  # the script has run, not merely connected
    settle(page)
    no_exception(page)
    shoot(page, f"hostile-{path or 'overview'}")
    assert page.locator("a[href*='evil.example']").count() == 0  # HTML, Markdown or SVG links
    assert page.locator("strong:text-is('bold'), b:text-is('bold')").count() == 0
    assert "\u202e" not in page.inner_text("body")  # the override never reaches the screen
    if path == "clips":  # the clip's heading shows its name as typed, override neutralised
        heading = page.locator("h3").filter(has_text="login").first.inner_text()
        heading = heading.replace("\u200b", "")  # zero-width spaces keep autolinks text
        assert "[login](https://evil.example/login) **bold** $x^2$" in heading
        assert "\ufffdevil.wav" in heading
        facts = page.locator("[data-testid='stTable']").first.inner_text().replace("\u200b", "")
        assert CORPUS in facts  # the cells show the name as typed
