"""Similar recordings (#27) end to end at scale: the product's own search, and Clips in Chromium.

    python bench/synth_db.py --clips 1000000 --db /tmp/scale/1m.duckdb
    python bench/similar_scale.py --db /tmp/scale/1m.duckdb [--queries 30] [--repeats 3]

1. `index`: `core.search.sync.sync` in a fresh process with the IVF left out (`ivf_min` above
   the row count): the float32 rows and keys beside the database, as the product answers while
   an IVF is built (or when none is wanted). Its seconds and peak memory. With `--ivf`, the
   product's own index instead: rows, keys and the faiss IVF it builds from 20,000 rows.
2. `search`: in one fresh process, `core.search.similar.similar_to_track` for `--queries`
   tracks drawn with a fixed seed, unfiltered, within one agent, and on the customer's track
   only: p50 and p95 of each, the first query (cold) counted; for the unfiltered ones, recall@20
   against an exact numpy scan of every index row (outside the timing).
3. `browser`: a fresh server and a fresh Chromium opening Clips with one clip selected and
   `sim=1`, timed until the similar list has drawn and until the whole page has; then a second
   visit in a fresh browser context on the same server (`--repeats` servers, the medians).
Writes bench/results/similar-scale-<tracks>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_scale import DRAWN, QUIET_AFTER_CLOSE_S, _child, fresh_dashboard, page_cache_gb
from core.search.sync import IVF_MIN

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

_INDEX = """
import json, resource, sys, time
from core.cli.models import pick_model_key
from core.search import sync
from core.store.database import Store
store = Store(sys.argv[1])
model = pick_model_key(store, None)
t = time.perf_counter()
state = sync.sync(store, model, ivf_min=int(sys.argv[2]))
print(json.dumps({"s": time.perf_counter() - t, "rows": state.rows, "ivf": state.ivf,
                  "lists": state.lists, "probes": state.probes, "ivf_recall": state.recall,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_SEARCH = """
import json, statistics, sys, time
import duckdb, numpy as np
from core.cli.models import pick_model_key
from core.records import ClipFilter
import pyarrow.parquet as pq
from core.search.index import open_index, scan_rows
from core.search.similar import embedding_dim, similar_to_track
from core.store.database import Store
store = Store(sys.argv[1])
model = pick_model_key(store, None)
n = int(sys.argv[2])
recall_of = sys.argv[3] == "1"
with duckdb.connect(sys.argv[1], read_only=True) as con:
    picked = con.execute(
        "SELECT p.clip_id, p.track, any_value(c.agent) FROM predictions p JOIN clips c"
        " USING (clip_id) WHERE p.model_key = ? GROUP BY p.clip_id, p.track"
        " ORDER BY hash(p.clip_id || p.track)"
        " LIMIT ?", [model, n]).fetchall()

_exact = {}


def exact_top(query_id, query_track, k=20):
    # (clip_id, track) of the k best rows by exact cosine over every index row, the query's
    # own rows and copies of its embedding left out as the product leaves them out.
    if not _exact:
        _exact["opened"] = opened = open_index(store.path, model, embedding_dim(store, model))
        _exact["keys"] = pq.read_table(opened.keys_file).to_pandas().set_index("row")
    opened, keys = _exact["opened"], _exact["keys"]
    mine = keys.index[(keys.clip_id == query_id) & (keys.track == query_track)]
    q = np.asarray(opened.vectors[mine[0]])
    sims = scan_rows(opened.vectors, q, opened.state.rows)
    best = []
    for row in np.argsort(-sims)[: k + 200]:
        if row not in keys.index or sims[row] >= 1 - 1e-6:
            continue
        pair = (keys.clip_id[row], keys.track[row])
        if pair not in best:
            best.append(pair)
        if len(best) == k:
            break
    return set(best)

out = {}
for name in ("unfiltered", "one agent", "customer track"):
    times, methods, shown, recall = [], set(), [], []
    answers = []
    for clip_id, track, agent in picked:
        where = {"unfiltered": ClipFilter(), "one agent": ClipFilter(agents=(agent,)),
                 "customer track": ClipFilter(tracks=("customer",))}[name]
        t = time.perf_counter()
        found = similar_to_track(store, model, clip_id, track, where, 20)
        times.append(time.perf_counter() - t)
        methods.add(found.method.split(" (")[0])
        shown.append(len(found.rows))
        answers.append((clip_id, track, set(zip(found.rows.clip_id, found.rows.track))))
    # After the timing: each exact answer reads every row (5.3 GB at 1.3M tracks), which
    # between two timed searches pushed the database's pages out of the page cache.
    if name == "unfiltered" and recall_of:
        recall = [len(got & exact_top(c, t)) / 20 for c, t, got in answers]
    times_ms = sorted(1000 * x for x in times)
    out[name] = {"p50_ms": round(statistics.median(times_ms), 1),
                 "p95_ms": round(float(np.percentile(times_ms, 95)), 1),
                 "first_ms": round(1000 * times[0], 1), "max_ms": round(times_ms[-1], 1),
                 "methods": sorted(methods), "rows_shown_min": min(shown)}
    if recall:
        out[name]["recall_at_20"] = round(float(np.mean(recall)), 3)
print(json.dumps(out))
"""


# The open clip's similar list (its grid has drawn), and the whole page (Streamlit idle, every
# chart and grid drawn, the table of clips included). Polled every 100 ms: a check on every
# animation frame costs the 2-core machine's renderer as much as some of the page.
_SIMILAR = ("() => !!document.querySelector(\"[class*='st-key-similar-'] [data-testid='stDataFrame']"
            " canvas\")")  # fmt: skip
_SETTLED = (
    f"() => ({DRAWN})() && document.querySelectorAll(\"[data-testid='stDataFrame'] canvas\")"
    ".length >= 2 && !document.querySelector(\"[data-testid='stStatusWidget'] button\")"
)


def browse(db: Path, repeats: int) -> dict:
    """Clips with one clip selected and its similar list on: per fresh server, a first visit
    (cold: nothing cached in the server) and a second in a fresh browser context (the server's
    caches warm: what the browser alone costs on this machine), each timed until the similar
    list has drawn and until the whole page has; with the server's and the machine's CPU
    seconds meanwhile."""
    import duckdb

    from tests.browser.driving import SERVER_PIDS

    with duckdb.connect(str(db), read_only=True) as con:
        clip_id, track = con.execute(
            "SELECT clip_id, track FROM predictions ORDER BY hash(clip_id || track) LIMIT 1"
        ).fetchall()[0]
    address = f"clips?clip={clip_id}&track={track}&sim=1"
    runs = {"cold": [], "warm server": []}
    for _ in range(repeats):
        with fresh_dashboard(db) as (url, browser):
            for visit in runs:
                time.sleep(QUIET_AFTER_CLOSE_S)
                runs[visit].append(_visit(browser, f"{url}/{address}", SERVER_PIDS[url]))
                print(f"{visit}: {runs[visit][-1]}", file=sys.stderr)
    return {"address": address, "runs": runs,
            **{f"{visit} similar_s": statistics.median(r["similar_s"] for r in visits)
               for visit, visits in runs.items()},
            **{f"{visit} page_s": statistics.median(r["page_s"] for r in visits)
               for visit, visits in runs.items()}}  # fmt: skip


def _visit(browser, address: str, server_pid: int) -> dict:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    server, machine = _cpu_s(server_pid), _machine_cpu_s()
    start = time.perf_counter()
    tab.goto(address)
    tab.wait_for_function(_SIMILAR, polling=100, timeout=300_000)
    similar_s = time.perf_counter() - start
    tab.wait_for_function(_SETTLED, polling=100, timeout=300_000)
    page_s = time.perf_counter() - start
    failed = tab.locator("[data-testid='stException']").count() > 0
    context.close()
    return {"similar_s": round(similar_s, 2), "page_s": round(page_s, 2),
            "server_cpu_s": round(_cpu_s(server_pid) - server, 2),
            "machine_cpu_s": round(_machine_cpu_s() - machine, 2), "exception": failed}  # fmt: skip


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu_s() -> float:
    """CPU seconds every core of the machine has spent busy so far."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["browser", "index"])
    parser.add_argument(
        "--ivf",
        action="store_true",
        help="the product's index with its faiss IVF (default: rows only)",
    )
    parser.add_argument(
        "--recall",
        action="store_true",
        help="recall@20 of the unfiltered answers against an exact scan",
    )
    args = parser.parse_args()
    report: dict = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "load_1min_start": Path("/proc/loadavg").read_text().split()[0],
                    "page_cache_gb_start": page_cache_gb()}  # fmt: skip
    # --skip index: the rows are already beside the database (a sync with nothing to do)
    ivf_min = IVF_MIN if args.ivf else 10**12
    report["index"] = _child(_INDEX, str(args.db), str(ivf_min), timeout_s=4 * 3600)
    print("index", report["index"], file=sys.stderr)
    report["search"] = _child(_SEARCH, str(args.db), str(args.queries), "1" if args.recall else "0")
    print("search", report["search"], file=sys.stderr)
    if "browser" not in args.skip:
        report["browser"] = browse(args.db, args.repeats)
    report["load_1min_end"] = Path("/proc/loadavg").read_text().split()[0]
    report["page_cache_gb_end"] = page_cache_gb()
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-ivf" if args.ivf else ""
    path = RESULTS / f"similar-scale-{report['index']['rows']}{suffix}"
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(report, args.queries))
    print(markdown(report, args.queries))


def markdown(r: dict, queries: int) -> str:
    index = r["index"]
    lines = [f"# Similar recordings at {index['rows']:,} tracks ({r['when']})", "",
             f"Load average at start {r['load_1min_start']}, end {r['load_1min_end']} (2 cores); "
             f"page cache {r['page_cache_gb_start']} -> {r['page_cache_gb_end']} GB.", "",
             f"Index written ({'rows and a faiss IVF' if index['ivf'] else 'rows only, no IVF'}):"
             f" {index['s']:.1f} s, peak {index['peak_mb']:.0f} MB"
             + (f"; {index['lists']} lists, calibrated to probe {index['probes']} per 20 results"
                f" (recall {index['ivf_recall']} on its sample)." if index.get("ivf") else "."),
             "", f"`similar_to_track`, k = 20, {queries} queries in one fresh process:", "",
             "| selection | p50 | p95 | first (cold) | how | recall@20 |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, v in r["search"].items():
        recall = f"{v['recall_at_20']:.3f}" if "recall_at_20" in v else "not measured"
        lines.append(f"| {name} | {v['p50_ms']:.0f} ms | {v['p95_ms']:.0f} ms | "
                     f"{v['first_ms']:.0f} ms | {', '.join(v['methods'])} | {recall} |")  # fmt: skip
    if "browser" in r:
        b = r["browser"]
        lines += ["", f"Chromium, Clips `{b['address'][:40]}…`: a fresh server's first visit (cold)"
                  " and a second visit in a fresh browser context (the server's caches warm: the"
                  " browser's own cost). Seconds until the similar list has drawn and until the"
                  " whole page has; CPU seconds of the server and of the machine meanwhile.", "",
                  "| visit | similar list (median) | whole page (median) | runs: similar / page,"
                  " server CPU, machine CPU |", "|---|---|---|---|"]  # fmt: skip
        for visit, runs in b["runs"].items():
            detail = "; ".join(f"{x['similar_s']} / {x['page_s']} s, {x['server_cpu_s']} s,"
                               f" {x['machine_cpu_s']} s" for x in runs)  # fmt: skip
            lines.append(f"| {visit} | {b[visit + ' similar_s']:.2f} s | {b[visit + ' page_s']:.2f} s"
                         f" | {detail} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
