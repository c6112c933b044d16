"""Hostile names through every page in Chromium: shown as typed, never a link or markup (#14).

File, agent, corpus, speaker, tag, track-role and label names are all hostile, and an audit row
carries them too, so the Model check and Admin pages are covered along with the other seven.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

import numpy as np
import pytest

from core.access.audit import record
from core.records import ClipRecord, FileOutcome, ScoredTrack
from core.store.batches import write_columns
from core.store.columns import BatchColumns
from core.store.database import Store
from core.store.ingest_runs import finish_run, start_run
from core.store.models import register_model
from tests.browser.driving import (
    no_exception,
    settle,
    shoot,
    start_server,
)

FILE = "[login](https://evil.example/login) **bold** $x^2$ \u202eevil.wav"
AGENT = "<a href='https://evil.example/agent'>agent</a>"
CORPUS = "[corp](https://evil.example/corpus)"
SPEAKER = "<b>bold</b> [spk](https://evil.example/speaker)"
TAG = "**bold** <a href='https://evil.example/tag'>tag</a>"
ROLE = "<b>agent</b>"  # a split call's track, named by its channel role
LABEL = "[anger](https://evil.example/label) <b>bold</b>"  # maps to no class: named in a warning
# The other clips carry labels that map to classes, so the confusion matrix has cells.
LABELS = (LABEL, "angry", "sad", "happy")
ECHARTS = "[data-testid='stEChartsChart']"
# Each page, and what it shows once its script has run to the end with these names in it.
PAGES = {
    "": f"{ECHARTS} canvas",  # Overview: the emotion mix
    "upload": "[data-testid='stFileUploaderDropzone']",
    "clips": "h3:has-text('login')",  # the opened clip's heading
    "frames": f"{ECHARTS} canvas",
    "clusters": "[data-testid='stButton']",  # Compute projection
    "trends": "[data-testid='stDataFrame']",  # the grid, agents in its first column
    "exports": "[data-testid='stButton'], [data-testid='stDownloadButton']",
    "check": ".js-plotly-plot",  # the confusion matrix
    "admin": "[data-testid='stTable']",  # the audit log
}
# Markup that a hostile name would make if it were rendered: Markdown/HTML bold in the page,
# Plotly's <b> (a bold tspan) in charts.
MARKUP = (
    "strong:text-is('bold'), b:text-is('bold'), b:text-is('agent'), strong:text-is('agent'),"
    " tspan[style*='bold']:text-is('agent'), tspan[style*='bold']:text-is('bold')"
)


def shown(locator) -> str:
    """A locator's text without the zero-width spaces that keep autolinks plain text."""
    return locator.inner_text().replace("\u200b", "")


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """The dashboard over a database whose file, agent, corpus, speaker, tag, role and label
    names are hostile; clip 1 is a split call with a hostile role track; one audit row."""
    folder = tmp_path_factory.mktemp("hostile")
    store = Store(folder / "emoscope.duckdb")
    register_model(store, "hostile@1", "hostile", "1", 4, untrained=True)
    run = start_run(store, CORPUS, "hostile@1", 8)
    rng = np.random.default_rng(3)
    start = datetime(2024, 5, 6)
    clips, tracks, outcomes = [], [], []
    for i in range(8):
        name = FILE if i == 0 else f"clip{i}.wav"
        clip_id = f"{i:064x}"
        split = i == 1
        clips.append(ClipRecord(clip_id, name, None, 2.0, 16_000, 2 if split else 1, "pcm_s16le",
                                64_000, agent=AGENT if i % 2 else "bob",
                                recorded_at=start + timedelta(days=7 * (i // 2)),
                                speaker=SPEAKER, tags=(TAG, "plain"),
                                label=LABELS[i % len(LABELS)]))  # fmt: skip
        for track in (ROLE, "customer") if split else ("mix",):
            logits = rng.standard_normal((100, 9)).astype(np.float32)
            scores = np.exp(logits.mean(0)) / np.exp(logits.mean(0)).sum()
            tracks.append(ScoredTrack(clip_id, track, scores.astype(np.float32),
                                      rng.standard_normal(4).astype(np.float32), logits))  # fmt: skip
        outcomes.append(FileOutcome(name, "scored", clip_id, 2.0))
    write_columns(store, run, CORPUS, "hostile@1", 4, BatchColumns.of(4, clips, tracks, outcomes))
    finish_run(store, run)
    # What an ingest of these files would log: the Admin page shows the detail in its table.
    record(store, "anonymous", "ingest", f"corpus {CORPUS}: {FILE}, {AGENT}, {SPEAKER}, {ROLE}")
    yield from start_server(folder, store.path)


@pytest.mark.parametrize("path", PAGES)
def test_hostile_names_render_as_text_on_every_page(page, hostile_server, path):
    query = f"?clip={0:064x}" if path in ("clips", "frames") else ""
    page.goto(f"{hostile_server}/{path}{query}")
    page.wait_for_selector(PAGES[path])  # the script has run, not merely connected
    settle(page)
    no_exception(page)
    shoot(page, f"hostile-{path or 'overview'}")
    assert page.locator("a[href*='evil.example']").count() == 0  # HTML, Markdown or SVG links
    assert page.locator(MARKUP).count() == 0
    assert "\u202e" not in page.inner_text("body")  # the override never reaches the screen
    if path == "clips":  # the clip's heading shows its name as typed, override neutralised
        heading = page.locator("h3").filter(has_text="login").first.inner_text()
        heading = heading.replace("\u200b", "")  # zero-width spaces keep autolinks text
        assert "[login](https://evil.example/login) **bold** $x^2$" in heading
        assert "\ufffdevil.wav" in heading
        facts = shown(page.locator("[data-testid='stTable']").first)
        assert CORPUS in facts  # the cells show the name as typed
        assert SPEAKER in facts and f"{TAG}, plain" in facts
    if path == "frames":  # ECharts draws the title as plain text; its description says it too
        described = page.locator(ECHARTS).first.get_attribute("aria-label")
        assert described.startswith(f"{FILE.replace(chr(0x202E), chr(0xFFFD))} · mix ({CORPUS}): ")
    if path == "check":  # the hostile label maps to no class; the warning names it as typed
        warning = shown(page.locator("[data-testid='stAlert']").filter(has_text="map to no class"))
        assert f"{LABEL} (2)" in warning
    if path == "admin":  # the audit row's detail, as typed
        audit = shown(page.locator("[data-testid='stTable']").first)
        assert f"corpus {CORPUS}: " in audit and f"{AGENT}, {SPEAKER}, {ROLE}" in audit
        assert "\ufffdevil.wav" in audit


@pytest.mark.parametrize("path", ["clips", "frames"])
def test_a_hostile_track_role_renders_as_text(page, hostile_server, path):
    """A split call's track named "<b>agent</b>": the Clips heading and the Frame curves'
    choice and aligned-track titles show the role as typed, never bold."""
    page.goto(f"{hostile_server}/{path}?clip={1:064x}&track={quote(ROLE)}")
    page.wait_for_selector("h3:has-text('clip1.wav')" if path == "clips" else ECHARTS)
    settle(page)
    no_exception(page)
    shoot(page, f"hostile-role-{path}")
    assert page.locator(MARKUP).count() == 0
    assert page.locator("a[href*='evil.example']").count() == 0
    if path == "clips":
        assert shown(page.locator("h3").filter(has_text="clip1.wav").first) == f"clip1.wav · {ROLE}"
    else:
        clip = page.locator("[data-testid='stSelectbox']").filter(
            has=page.get_by_text("Clip", exact=True)
        )
        assert clip.locator("input").input_value() == f"clip1.wav · {ROLE} ({CORPUS})"
        # The aligned tracks' chart: its row titles are canvas text, named in its description.
        aligned = page.locator(ECHARTS).first.get_attribute("aria-label")
        assert aligned == f"clip1.wav: tracks {ROLE}, customer over 2.0 s"
