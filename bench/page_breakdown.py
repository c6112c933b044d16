"""Where a page's first open goes, seen from Chromium: frontend start, script, browser work.

    python bench/page_breakdown.py --db /tmp/1m.duckdb [--pages overview,trends,trends] [--runs 3]

Each run starts a fresh server (cold caches) and opens the pages in order, each in a new
browser context, as `bench/dashboard_scale.py` does. Per page it prints, in seconds from the
navigation: the first and last WebSocket frame from the server (the script's first output, and
roughly its end), when the page was idle and when its charts and grids had drawn, when plotly's
bundle was fetched (if it was), and the browser main thread's busiest scripts from a CDP CPU
profile. A page opened a second time shows
what the server's caches and the browser's compiled code save. Results go to
bench/results/page-breakdown.md.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results"


def open_page(browser, url: str, page: str) -> dict:
    """Open `page` in a new context; the timings of one open."""
    from bench.dashboard_scale import QUIET_AFTER_CLOSE_S, page_url, wait_until_drawn

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    frames: list[tuple[float, int]] = []
    tab.on("websocket", lambda ws: ws.on(
        "framereceived", lambda f: frames.append((time.perf_counter(), len(f or b"")))))  # fmt: skip
    cdp = context.new_cdp_session(tab)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.start")
    start = time.perf_counter()
    tab.goto(page_url(url, page))
    idle, drawn = wait_until_drawn(tab, page, start)
    profile = cdp.send("Profiler.stop")["profile"]
    plotly = tab.evaluate(
        "() => performance.getEntriesByType('resource').filter(e => e.name.includes('PlotlyChart'))"
        ".map(e => [e.startTime / 1000, e.responseEnd / 1000])"
    )
    context.close()
    time.sleep(QUIET_AFTER_CLOSE_S)  # so that the next page's open is measured alone
    return {"page": page, "idle_s": idle, "drawn_s": drawn,
            "first_frame_s": frames[0][0] - start if frames else None,
            "last_frame_s": frames[-1][0] - start if frames else None,
            "plotly_fetched_s": plotly[0] if plotly else None,
            "busiest_scripts_ms": _busiest(profile)}  # fmt: skip


def _busiest(profile: dict, top: int = 4) -> list[tuple[str, int]]:
    """Main-thread milliseconds per script file (idle and native work under their own names)."""
    nodes = {n["id"]: n["callFrame"] for n in profile["nodes"]}
    spent: collections.Counter = collections.Counter()
    for node, delta_us in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node]
        spent[frame["url"].rsplit("/", 1)[-1] or frame["functionName"]] += delta_us / 1000
    return [(name, round(ms)) for name, ms in spent.most_common(top + 1) if name != "(idle)"][:top]


def run(db: Path, pages: list[str]) -> list[dict]:
    """One fresh server; the pages opened in order."""
    from bench.dashboard_scale import fresh_dashboard

    with fresh_dashboard(db) as (url, browser):
        return [open_page(browser, url, page) for page in pages]


def markdown(db: Path, runs: list[list[dict]]) -> str:
    def s(value) -> str:
        return "–" if value is None else f"{value:.2f}"

    lines = [f"# Page opens from Chromium: {db.name}", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; each run a fresh server,"
             " each page a new browser context; seconds from the navigation.", "",
             "| run | page | first frame | last frame | idle | drawn | plotly fetched | busiest scripts (ms) |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for i, opened in enumerate(runs, start=1):
        for o in opened:
            fetched = o["plotly_fetched_s"]
            lines.append(
                f"| {i} | {o['page']} | {s(o['first_frame_s'])} | {s(o['last_frame_s'])} "
                f"| {o['idle_s']:.2f} | {o['drawn_s']:.2f} | {f'{fetched[0]:.2f}–{fetched[1]:.2f}' if fetched else '–'} "
                f"| {', '.join(f'{n} {ms}' for n, ms in o['busiest_scripts_ms'])} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--pages", default="overview,trends,trends",
                        help="comma-separated, opened in order (default: overview,trends,trends)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs = [run(args.db, args.pages.split(",")) for _ in range(args.runs)]
    text = markdown(args.db, runs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "page-breakdown.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
