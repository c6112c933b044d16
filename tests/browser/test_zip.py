"""End to end: a zip uploaded through the real server is unpacked to disk and analysed, with its
unsafe member reported (issue #14 item 2). Uses the server and browser of tests/test_browser.py."""

from __future__ import annotations

import io
import zipfile

from tests.browser.driving import (
    no_exception,
    shoot,
    upload_and_analyse,
)


def test_a_zip_upload_is_listed_then_unpacked_and_analysed(page, server, tmp_path):
    import soundfile as sf

    from tests.conftest import speechlike

    members = {}
    for i in range(2):
        buffer = io.BytesIO()
        sf.write(buffer, speechlike(1.5, seed=200 + i), 16_000, format="WAV")
        members[f"calls/zip-call-{i}.wav"] = buffer.getvalue()
    members["../escape.wav"] = members["calls/zip-call-0.wav"]
    archive = tmp_path / "batch.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    upload_and_analyse(page, server, [archive], "zipped")
    log = page.locator("[data-testid='stExpander']").filter(has_text="Processing log")
    log.get_by_text("path leaves the archive").wait_for()  # open: a run with a failure shows it
    body = page.inner_text("body")
    metrics = page.locator("[data-testid='stMetric']").all_inner_texts()
    assert [m.split()[-1] for m in metrics[:3]] == ["2", "0", "1"]  # scored, cached, refused
    assert "path leaves the archive" in body
    text = log.inner_text()
    assert "calls/zip-call-0.wav" in text and "calls/zip-call-1.wav" in text
    assert "../escape.wav: path leaves the archive" in text
    no_exception(page)
    shoot(page, "1b-upload-zip")
