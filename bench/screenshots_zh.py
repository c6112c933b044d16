"""Screenshots of the dashboard in Chinese (#28): Overview and Frame curves with ?lang=zh, in
Chromium at 1440 x 2000 (the charts below the fold too), over the synthetic database (bench/synth_db.py, 700 clips).

    python bench/screenshots_zh.py      # writes bench/results/zh-overview.png, zh-frame-curves.png

CJK text needs a CJK font on the machine that renders it (Debian: fonts-noto-cjk, which
`scripts/setup.sh --dev` installs); without one Chromium draws empty boxes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import synth_db  # noqa: E402
from dashboard_scale import fresh_dashboard  # noqa: E402

from tests.browser.driving import settle  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PAGES = {"zh-overview.png": "/?lang=zh", "zh-frame-curves.png": "/frames?lang=zh"}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="emoscope-zh-") as folder:
        db = Path(folder) / "synth.duckdb"
        synth_db.build(db, synth_db.SynthSpec(clips=700, seed=5, batch=350, curve_share=0.05))
        with fresh_dashboard(db) as (url, browser):
            page = browser.new_page(viewport={"width": 1440, "height": 2000}, locale="zh-CN")
            for name, path in PAGES.items():
                page.goto(url + path)
                settle(page)
                # drawn: no placeholder left, and the charts' canvases are painted
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=\"stSkeleton\"]')"
                    " && document.querySelectorAll('canvas').length > 0",
                    timeout=180_000,
                )
                page.wait_for_timeout(3000)
                assert "Traceback" not in page.inner_text("body")
                page.screenshot(path=str(RESULTS / name))
                print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
