"""The dashboard at call-centre scale: page renders, a full export, a projection under load.

    python bench/synth_db.py --clips 1000000 --db /tmp/scale/1m.duckdb
    python bench/dashboard_scale.py --db /tmp/scale/1m.duckdb --projection-db /tmp/scale/100k.duckdb

Measures, each in a fresh process so caches are cold:
- every page's first render through Streamlit's AppTest (bar: <= 2 s);
- every page in Chromium against the real server: navigation until Streamlit is idle and every
  chart and data grid has drawn (bar: 3 s;
  the median of `--repeats` fresh servers, every run kept);
- a Parquet export of every clip through `python -m core export` (bars: 20 s, peak RSS 2 GB);
- a projection of 100,000 tracks as the background job, while the Clips and Trends pages are
  rendered every 5 s in the same process, as the server would (bar: 180 s; the renders show
  the pages stay usable);
- Clusters opening that stored projection (its map and profiles) in Chromium (bar: 3 s).
Writes bench/results/dashboard-scale-<clips>.json and a markdown table beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PAGES = ("overview", "upload", "clips", "frames", "clusters", "trends", "exports")
# Text each page shows once its data is on screen (the browser timing waits for it).
# (Text in the sidebar, such as a page's name, shows on every page: no use here.)
EXPECTED = {"overview": "Data quality:", "upload": "server.maxUploadSize",
            "clips": "Clips (tracks) matching", "frames": "frames of 20 ms",
            "clusters": "Compute projection", "trends": "Drill down", "exports": "clips.parquet (",
            "stored": "Cluster profiles"}  # fmt: skip
# The sidebar's selection of the projection that `projection` stores: one track per recording.
STORED_SELECTION = "role=mix&role=agent"
TITLES = {"overview": "Overview", "upload": "Upload & analyse", "clips": "Clips",
          "frames": "Frame curves", "clusters": "Clusters", "trends": "Agent trends",
          "exports": "Exports"}  # fmt: skip
# Idle is not drawn: Streamlit reports the script done before a lazily loaded chart library has
# run (a fresh browser's first plotly figure appeared 1-1.5 s after idle), so a page counts as
# open once every chart and data grid on it has drawn (a lazily loaded element shows a skeleton
# until its library has arrived; one inside a closed expander is not drawn until it opens).
DRAWN = """() => !document.querySelector("[data-testid='stSkeleton']")
    && [...document.querySelectorAll("[data-testid='stPlotlyChart']")].every(
        c => !c.checkVisibility() || c.querySelector('.main-svg'))
    && [...document.querySelectorAll("[data-testid='stEChartsChart']")].every(
        c => !c.checkVisibility() || c.querySelector('canvas'))
    && [...document.querySelectorAll("[data-testid='stDataFrame']")].every(
        g => !g.checkVisibility() || g.querySelector('canvas'))"""
# A closed browser context keeps Chromium and the server (ending that session) busy for a moment.
# Measured straight after, the next page's open paid for the last one too: the first frame of
# Clips opened right after Upload came at 1.29-1.72 s, against 0.90-0.99 s after a 3 s pause.
QUIET_AFTER_CLOSE_S = 2.0
BARS = {"render_s": 2.0, "browser_s": 3.0, "export_s": 20.0, "export_rss_mb": 2048,
        "projection_s": 180.0}  # fmt: skip

_RENDER = """
import json, os, sys, time
os.environ["EMOSCOPE_DB"] = sys.argv[1]
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[3], default_timeout=300)
if sys.argv[2] != "overview":  # the default page
    at.switch_page("../pages/" + sys.argv[2] + ".py")
start = time.perf_counter()
at.run()
seconds = time.perf_counter() - start
print(json.dumps({"s": seconds, "exceptions": [str(e.value) for e in at.exception]}))
"""

_EXPORT = """
import json, resource, sys, time
from pathlib import Path
from core.store.database import Store
from core.cli.models import pick_model_key
from core.store.export import export
store = Store(sys.argv[1])
start = time.perf_counter()
rows = export(store, sys.argv[3], "parquet", Path(sys.argv[2]), pick_model_key(store, None))
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "s": seconds, "rss_mb": rss}))
"""

_PROJECTION = """
import json, os, resource, sys, time
os.environ["EMOSCOPE_DB"] = sys.argv[1]
from streamlit.testing.v1 import AppTest
from core.analysis.clusters import ProjectionParams
from core.analysis.projection import compute_projection
from core.jobs import JobRegistry
from core.records import ClipFilter
from dashboard import jobs, resources
store = resources.store()  # the server's own Store: the job and the pages share its lock
model = list_models(store).model_key[0]
where = ClipFilter(tracks=("mix", "agent"))  # one track per recording: 100,000 points
# (the page's sidebar makes that selection from STORED_SELECTION)
stages = []
start = time.perf_counter()
job = JobRegistry().start("bench", lambda progress: compute_projection(  # as jobs.start_projection
    store, model, where, ProjectionParams(),
    lambda d, t, s: (stages.append([round(time.perf_counter() - start, 1), s]), progress(d, t, s)),
    isolated=True))
renders = []
while not job.snapshot().finished:
    for page in ("clips", "trends"):
        at = AppTest.from_file(sys.argv[2], default_timeout=300)
        at.switch_page("../pages/" + page + ".py")
        t = time.perf_counter()
        at.run()
        renders.append([page, round(time.perf_counter() - t, 2),
                        [str(e.value)[:200] for e in at.exception]])
    job.wait(5)  # a user clicking now and then, not a render loop competing for the cores
state = job.wait()
print(json.dumps({"s": state.elapsed_s, "error": state.error, "points": state.result.n_points
                  if state.result else 0, "k": state.result.k if state.result else None,
                  "stages": stages, "renders_during_job": renders,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(code: str, *args: str, timeout_s: float = 900) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=timeout_s)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def render_pages(db: Path, repeats: int) -> dict:
    """Seconds of each page's first run in a fresh process (best of `repeats`)."""
    app = str(ROOT / "dashboard" / "app.py")
    results = {}
    for page in PAGES:
        runs = [_child(_RENDER, str(db), page, app) for _ in range(repeats)]
        results[page] = {"s": round(min(r["s"] for r in runs), 2),
                         "exceptions": runs[0]["exceptions"]}  # fmt: skip
        print(f"render {page}: {results[page]}", file=sys.stderr)
    return results


def browser_pages(db: Path, repeats: int) -> dict:
    """Seconds until the page's data shows and Streamlit is idle, per page, in Debian Chromium.

    Two ways in, each on a fresh server so its caches start cold: `open` loads the page's URL in
    a new browser context (the Streamlit frontend is downloaded again each time); `navigate`
    clicks the page in the sidebar of an app already open, as a user moves between pages.
    Each way runs `repeats` times, on a fresh server each; a page's value is the median and every
    run is kept. The browser shares the 2 cores with the server, so one run on a shared machine
    can differ from the next by 0.7 s.
    """
    results = {}
    for way, navigate in (("open", False), ("navigate", True)):
        runs = [_browse(db, navigate) for _ in range(repeats)]
        results[way] = {page: {"s": statistics.median(r[page]["s"] for r in runs),
                               "runs_s": [r[page]["s"] for r in runs],
                               "exception": any(r[page]["exception"] for r in runs)}
                        for page in PAGES}  # fmt: skip
    return results


@contextlib.contextmanager
def fresh_dashboard(db: Path) -> Iterator[tuple[str, object]]:
    """A fresh server over `db` (cold caches) and a headless Debian Chromium: (url, browser)."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from tests.browser.driving import CHROMIUM, start_server

    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder), db)
        url = next(server)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                            args=["--no-sandbox", "--headless", "--disable-gpu"])  # fmt: skip
                yield url, browser
                browser.close()
        finally:
            next(server, None)


def page_url(url: str, page: str) -> str:
    """The page's address: the Overview is the app's root."""
    return f"{url}/{'' if page == 'overview' else page}"


def wait_until_drawn(tab, page: str, start: float) -> tuple[float, float]:
    """Seconds from `start` until `page` showed its data with Streamlit idle, and until every
    chart and grid on it had drawn."""
    from tests.browser.driving import settle

    tab.get_by_text(EXPECTED[page]).first.wait_for(timeout=120_000)
    settle(tab)
    idle = time.perf_counter() - start
    tab.wait_for_function(DRAWN, timeout=120_000)
    return idle, time.perf_counter() - start


def _browse(db: Path, navigate: bool) -> dict:
    results = {}
    with fresh_dashboard(db) as (url, browser):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        for page_name in PAGES:
            if not navigate:
                context.close()
                time.sleep(QUIET_AFTER_CLOSE_S)
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                tab = context.new_page()
            start = time.perf_counter()
            if navigate and page_name != PAGES[0]:
                tab.get_by_role("link", name=TITLES[page_name]).first.click()
            else:
                tab.goto(page_url(url, page_name))
            _, drawn = wait_until_drawn(tab, page_name, start)
            results[page_name] = {"s": round(drawn, 2),
                                  "exception": tab.locator("[data-testid='stException']")
                                  .count() > 0}  # fmt: skip
            print(f"browser {navigate=} {page_name}: {results[page_name]}", file=sys.stderr)
    return results


def export_all(db: Path) -> dict:
    """A Parquet export of every clip, and of every frame curve, each in a fresh process."""
    results = {}
    for what in ("clips", "frames"):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / f"{what}.parquet"
            results[what] = _child(_EXPORT, str(db), str(out), what)
            results[what]["bytes"] = out.stat().st_size
        print(f"export {what}: {results[what]}", file=sys.stderr)
    return results


def cold_opens(db: Path, address: str, expected: str, repeats: int) -> dict:
    """Seconds until `address` has drawn (its `expected` text shown, Streamlit idle, every chart
    and grid drawn) in a fresh browser on a fresh server: the median of `repeats`, every run
    kept, and whether any run showed an exception."""
    from tests.browser.driving import settle

    runs, failed = [], False
    for _ in range(repeats):
        with fresh_dashboard(db) as (url, browser):
            time.sleep(QUIET_AFTER_CLOSE_S)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            tab = context.new_page()
            start = time.perf_counter()
            tab.goto(f"{url}/{address}")
            tab.get_by_text(expected).first.wait_for(timeout=300_000)
            settle(tab)
            tab.wait_for_function(DRAWN, timeout=120_000)
            runs.append(round(time.perf_counter() - start, 2))
            failed = failed or tab.locator("[data-testid='stException']").count() > 0
            context.close()
        print(f"{address}: {runs[-1]} s", file=sys.stderr)
    return {"address": address, "s": statistics.median(runs), "runs_s": runs,
            "exception": failed}  # fmt: skip


def stored_projection_pages(db: Path, repeats: int) -> dict:
    """Seconds until Clusters shows the projection that `projection` stored (map and profiles),
    opened in a fresh browser on a fresh server: the median of `repeats`, every run kept."""
    runs = []
    for _ in range(repeats):
        with fresh_dashboard(db) as (url, browser):
            time.sleep(QUIET_AFTER_CLOSE_S)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            tab = context.new_page()
            start = time.perf_counter()
            tab.goto(f"{url}/clusters?{STORED_SELECTION}")
            _, drawn = wait_until_drawn(tab, "stored", start)
            runs.append(round(drawn, 2))
            context.close()
        print(f"stored projection: {runs[-1]} s", file=sys.stderr)
    return {"s": statistics.median(runs), "runs_s": runs}


def projection(db: Path) -> dict:
    result = _child(_PROJECTION, str(db), str(ROOT / "dashboard" / "app.py"), timeout_s=1800)
    print(f"projection: {result['s']:.1f} s, {result['points']} points", file=sys.stderr)
    return result


def page_cache_gb() -> float | None:
    """The OS page cache in GB (Linux), None elsewhere. A fresh server reads the database through
    it: a machine reclaiming it makes every page slower (2026-11-30: 15.4 -> 10.6 GB during a run
    a quarter slower than one three hours earlier)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("Cached:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def clip_count(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute("SELECT count(*) FROM clips").fetchall()[0][0])


def _cache(when: dict) -> str:
    """ ", page cache 15.4 -> 10.6 GB" when the run recorded it (older results did not)."""
    start, end = when.get("page_cache_gb_at_start"), when.get("page_cache_gb_at_end")
    return "" if start is None or end is None else f", page cache {start} -> {end} GB"


def markdown(report: dict) -> str:
    lines = [f"# Dashboard at scale: {report['clips']:,} clips", "",
             f"{report['machine']}, shared with other engineers' work; database "
             f"{report['db_gb']} GB.", "",
             "| measure | value | bar |", "|---|---|---|"]  # fmt: skip
    for part, when in report.get("measured", {}).items():
        lines.insert(3, f"- {part}: measured {when['when']}, load average "
                        f"{when['load_avg_1m_at_start']:.1f} at start{_cache(when)}")  # fmt: skip
    for page, r in report.get("render", {}).items():
        lines.append(f"| AppTest cold render: {page} | {r['s']:.2f} s | ≤ {BARS['render_s']} s |")
    for way, pages in report.get("browser", {}).items():
        for page, r in pages.items():
            runs = r.get("runs_s", [r["s"]])
            spread = f" (runs {', '.join(f'{s:.2f}' for s in runs)})" if len(runs) > 1 else ""
            lines.append(f"| Chromium, {way}, until drawn: {page} | {r['s']:.2f} s{spread} |"
                         f" ≤ {BARS['browser_s']} s |")  # fmt: skip
    for what, e in report.get("export", {}).items():
        bar = "≤ 20 s, ≤ 2048 MB" if what == "clips" else "bounded memory"
        lines.append(f"| Parquet export of all {what}: {e['rows']:,} rows | {e['s']:.1f} s, peak"
                     f" RSS {e['rss_mb']:.0f} MB | {bar} |")  # fmt: skip
    if "projection" in report:
        p = report["projection"]
        during = [s for _, s, _ in p["renders_during_job"]]
        failed = sum(1 for *_, errors in p["renders_during_job"] if errors)
        lines.append(f"| projection of {p['points']:,} tracks (background job) | {p['s']:.1f} s "
                     f"(k = {p['k']}) | ≤ 180 s |")  # fmt: skip
        if during:
            lines.append(f"| page renders while it ran ({len(during)}, {failed} with an error) |"
                         f" max {max(during):.2f} s, median {sorted(during)[len(during) // 2]:.2f}"
                         " s | usable |")  # fmt: skip
    if "stored" in report:
        stored = report["stored"]
        runs = ", ".join(f"{r:.2f}" for r in stored["runs_s"])
        points = report.get("projection", {}).get("points", 0)
        lines.append(f"| Chromium, open, until drawn: Clusters showing the stored projection of "
                     f"{points:,} tracks | "
                     f"{stored['s']:.2f} s (runs {runs}) | ≤ {BARS['browser_s']} s |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--projection-db", type=Path, help="a 100,000-clip database")
    parser.add_argument("--repeats", type=int, default=1,
                        help="renders: best of N; browser: median of N fresh servers")  # fmt: skip
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["render", "browser", "export", "projection", "stored"])  # fmt: skip
    args = parser.parse_args(argv)
    report = {"clips": clip_count(args.db), "db_gb": round(args.db.stat().st_size / 2**30, 2),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "load_avg_1m_at_start": os.getloadavg()[0], "bars": BARS, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    stamp = {"when": report["when"], "load_avg_1m_at_start": report["load_avg_1m_at_start"],
             "page_cache_gb_at_start": page_cache_gb()}  # fmt: skip
    report["measured"] = {part: stamp for part in ("render", "browser", "export", "projection", "stored")
                          if part not in args.skip}  # fmt: skip
    if "render" not in args.skip:
        report["render"] = render_pages(args.db, args.repeats)
    if "browser" not in args.skip:
        report["browser"] = browser_pages(args.db, args.repeats)
    if "export" not in args.skip:
        report["export"] = export_all(args.db)
    if "projection" not in args.skip and args.projection_db:
        report["projection"] = projection(args.projection_db)
        report["projection"]["db"] = str(args.projection_db)
    if "stored" not in args.skip and args.projection_db:
        report["stored"] = stored_projection_pages(args.projection_db, args.repeats)
    stamp["page_cache_gb_at_end"] = page_cache_gb()  # the parts measured now share this stamp
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"dashboard-scale-{report['clips']}"
    if stem.with_suffix(".json").exists():  # keep the parts measured by an earlier --skip run
        earlier = json.loads(stem.with_suffix(".json").read_text())
        measured = {**earlier.get("measured", {}), **report["measured"]}
        report = {**earlier, **report, "measured": measured}
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str))
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
