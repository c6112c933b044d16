"""Similar recordings (#27) end to end at scale: the product's own search, and Clips in Chromium.

    python bench/synth_db.py --clips 1000000 --db /tmp/scale/1m.duckdb
    python bench/similar_scale.py --db /tmp/scale/1m.duckdb [--queries 30] [--repeats 3]

1. `index`: `core.search.sync.sync` in a fresh process with the graph left out (`graph_min`
   above the row count): the float32 rows and keys beside the database, as the product answers
   while a graph is built (or when none is wanted). Its seconds and peak memory. With `--graph`,
   the product's own index instead: rows, keys and the usearch graph it builds from 20,000 rows.
2. `search`: in one fresh process, `core.search.similar.similar_to_track` for `--queries`
   tracks drawn with a fixed seed, unfiltered, within one agent, and on the customer's track
   only: p50 and p95 of each, the first query (cold) counted; for the unfiltered ones, recall@20
   against an exact numpy scan of every index row (outside the timing).
3. `browser`: a fresh server and a fresh Chromium opening Clips with one clip selected and
   `sim=1`, until the similar list has drawn (`--repeats` servers, the median).
Writes bench/results/similar-scale-<tracks>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_scale import _child, cold_opens, page_cache_gb
from core.search.sync import GRAPH_MIN

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
state = sync.sync(store, model, graph_min=int(sys.argv[2]))
print(json.dumps({"s": time.perf_counter() - t, "rows": state.rows, "graph": state.graph,
                  "candidates": state.candidates, "graph_recall": state.recall,
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
    for clip_id, track, agent in picked:
        where = {"unfiltered": ClipFilter(), "one agent": ClipFilter(agents=(agent,)),
                 "customer track": ClipFilter(tracks=("customer",))}[name]
        t = time.perf_counter()
        found = similar_to_track(store, model, clip_id, track, where, 20)
        times.append(time.perf_counter() - t)
        methods.add(found.method.split(" (")[0])
        shown.append(len(found.rows))
        if name == "unfiltered" and recall_of:
            got = set(zip(found.rows.clip_id, found.rows.track))
            recall.append(len(got & exact_top(clip_id, track)) / 20)
    times_ms = sorted(1000 * x for x in times)
    out[name] = {"p50_ms": round(statistics.median(times_ms), 1),
                 "p95_ms": round(float(np.percentile(times_ms, 95)), 1),
                 "first_ms": round(1000 * times[0], 1), "max_ms": round(times_ms[-1], 1),
                 "methods": sorted(methods), "rows_shown_min": min(shown)}
    if recall:
        out[name]["recall_at_20"] = round(float(np.mean(recall)), 3)
print(json.dumps(out))
"""


def browse(db: Path, repeats: int) -> dict:
    """Clips with one clip selected and its similar list on, in a fresh server and browser."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        clip_id, track = con.execute(
            "SELECT clip_id, track FROM predictions ORDER BY hash(clip_id || track) LIMIT 1"
        ).fetchall()[0]
    address = f"clips?clip={clip_id}&track={track}&sim=1"
    return cold_opens(db, address, "Cosine similarity of embeddings", repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["browser", "index"])
    parser.add_argument(
        "--graph",
        action="store_true",
        help="the product's index with its usearch graph (default: rows only)",
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
    graph_min = GRAPH_MIN if args.graph else 10**12
    report["index"] = _child(_INDEX, str(args.db), str(graph_min), timeout_s=4 * 3600)
    print("index", report["index"], file=sys.stderr)
    report["search"] = _child(_SEARCH, str(args.db), str(args.queries), "1" if args.recall else "0")
    print("search", report["search"], file=sys.stderr)
    if "browser" not in args.skip:
        report["browser"] = browse(args.db, args.repeats)
    report["load_1min_end"] = Path("/proc/loadavg").read_text().split()[0]
    report["page_cache_gb_end"] = page_cache_gb()
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-graph" if args.graph else ""
    path = RESULTS / f"similar-scale-{report['index']['rows']}{suffix}"
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(report, args.queries))
    print(markdown(report, args.queries))


def markdown(r: dict, queries: int) -> str:
    index = r["index"]
    lines = [f"# Similar recordings at {index['rows']:,} tracks ({r['when']})", "",
             f"Load average at start {r['load_1min_start']}, end {r['load_1min_end']} (2 cores); "
             f"page cache {r['page_cache_gb_start']} -> {r['page_cache_gb_end']} GB.", "",
             f"Index written ({'rows and usearch graph' if index['graph'] else 'rows only, no graph'}):"
             f" {index['s']:.1f} s, peak {index['peak_mb']:.0f} MB"
             + (f"; calibrated: {index['candidates']} graph candidates per 20 results, recall"
                f" {index['graph_recall']} on its sample (0: the graph is not used)."
                if index.get("graph") else "."),
             "", f"`similar_to_track`, k = 20, {queries} queries in one fresh process:", "",
             "| selection | p50 | p95 | first (cold) | how | recall@20 |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, v in r["search"].items():
        recall = f"{v['recall_at_20']:.3f}" if "recall_at_20" in v else "not measured"
        lines.append(f"| {name} | {v['p50_ms']:.0f} ms | {v['p95_ms']:.0f} ms | "
                     f"{v['first_ms']:.0f} ms | {', '.join(v['methods'])} | {recall} |")  # fmt: skip
    if "browser" in r:
        b = r["browser"]
        lines += ["", f"Chromium, fresh server, Clips `{b['address'][:40]}…` until the similar "
                  f"list has drawn: median {b['s']:.2f} s (runs {b['runs_s']})."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
