"""Needs attention and agent rankings at call-centre scale (#30).

    python bench/synth_db.py --clips 1000000 --db /tmp/scale/1m.duckdb
    python bench/attention_scale.py --db /tmp/scale/1m.duckdb [--repeats 3]

Measures, each in a fresh process or on a fresh server so caches start cold (the database file
itself may be in the OS page cache; its share is recorded):
- `counts`: core.store.attention.agent_periods + the tests (week, the customer's voice) and Agent
  trends' query + rank_agents of every agent (month), in one fresh process;
- `cli`: `python -m core overview --period week --json`, the whole command;
- `render`: AppTest's first run of the Overview and of Agent trends with the ranking open;
- `browser`: a fresh server and Chromium opening Agent trends with every agent ranked by angry
  (month), until the ranking grid has drawn, and the Overview until its last section has drawn.
Writes bench/results/attention-scale-<clips>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard_scale import (
    _child,
    clip_count,
    page_cache_gb,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RANKING = "trends?ranking=1&rank=angry&period=month"
EXPECTED = {"": "Data quality:", RANKING: "Agents with at least"}

_COUNTS = """
import json, sys, time
from datetime import date
t0 = time.perf_counter()
from core.analysis import attention as att
from core.analysis import ranking
from core.cli.models import pick_model_key
from core.records import ClipFilter
from core.store import attention as reads
from core.store.database import Store
imported = time.perf_counter() - t0
store = Store(sys.argv[1])
model = pick_model_key(store, None)
tracks = reads.track_names(store, model)
where = ranking.counted_filter(ClipFilter(), ranking.default_role(tracks), tracks)
t = time.perf_counter()
counts = reads.agent_periods(store, model, where, "week")
query = time.perf_counter() - t
t = time.perf_counter()
report = att.report(counts, "week", "customer", date.today())
tests = time.perf_counter() - t
t = time.perf_counter()
trends = reads.agent_trends(store, model, where, "month")
trends_query = time.perf_counter() - t
t = time.perf_counter()
month = att.counts_from_trends(trends)
window = att.choose_window("month", month.period_start.max().date(), date.today())
ranked, hidden = ranking.rank_agents(month, window.start, "angry")
rank = time.perf_counter() - t
print(json.dumps({"import_s": imported, "counts_query_s": query, "tests_s": tests,
                  "trends_query_s": trends_query, "rank_s": rank, "agents_ranked": len(ranked),
                  "agents_hidden": hidden, "tests": report.tests, "rows": len(counts),
                  "flagged": len(report.flagged), "needs_attention": len(report.needs_attention),
                  "tracks_counted": list(where.tracks)}))
"""

_RENDER = """
import json, os, sys, time
os.environ["EMOSCOPE_DB"] = sys.argv[1]
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[3], default_timeout=300)
if sys.argv[2] == "trends":
    at.switch_page("../pages/trends.py")
    for k, v in (("ranking", "1"), ("rank", "angry"), ("period", "month")):
        at.query_params[k] = v
start = time.perf_counter()
at.run()
print(json.dumps({"s": time.perf_counter() - start,
                  "exceptions": [str(e.value) for e in at.exception]}))
"""


def browse(db: Path, repeats: int) -> dict:
    from bench.dashboard_scale import cold_opens

    return {address or "overview": cold_opens(db, address, EXPECTED[address], repeats)
            for address in ("", RANKING)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=["render", "browser"])
    args = parser.parse_args()
    clips = clip_count(args.db)
    report: dict = {"clips": clips, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "page_cache_gb_start": page_cache_gb(),
                    "load_1min_start": Path("/proc/loadavg").read_text().split()[0]}  # fmt: skip
    report["counts"] = [_child(_COUNTS, str(args.db)) for _ in range(args.repeats)]
    print("counts", report["counts"][-1], file=sys.stderr)
    cli = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "core", "overview", "--db", str(args.db),
                               "--period", "week", "--json"], capture_output=True, text=True,
                              cwd=ROOT, check=True)  # fmt: skip
        cli.append(round(time.perf_counter() - start, 2))
    out = json.loads(done.stdout)
    report["cli"] = {"runs_s": cli, "s": statistics.median(cli), "label": out["label"],
                     "needs_attention": len(out["needs_attention"]),
                     "flagged": len(out["flagged"]), "tests": out["method"]["tests"]}  # fmt: skip
    print("cli", report["cli"], file=sys.stderr)
    if "render" not in args.skip:
        app = str(ROOT / "dashboard" / "app.py")
        report["render"] = {
            page: min((_child(_RENDER, str(args.db), page, app) for _ in range(args.repeats)),
                      key=lambda r: r["s"])
            for page in ("overview", "trends")
        }  # fmt: skip
        print("render", report["render"], file=sys.stderr)
    if "browser" not in args.skip:
        report["browser"] = browse(args.db, args.repeats)
    report["page_cache_gb_end"] = page_cache_gb()
    report["load_1min_end"] = Path("/proc/loadavg").read_text().split()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"attention-scale-{clips}"
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def markdown(r: dict) -> str:
    best = min(r["counts"], key=lambda c: c["counts_query_s"] + c["trends_query_s"])
    lines = [f"# Needs attention and rankings at {r['clips']:,} clips ({r['when']})", "",
             f"Load average at start {r['load_1min_start']}, end {r['load_1min_end']} (2 cores); "
             f"page cache {r['page_cache_gb_start']} -> {r['page_cache_gb_end']} GB.", "",
             "| what | seconds |", "|---|---|",
             f"| counts per agent x week, customer's voice ({best['rows']:,} rows) | "
             f"{best['counts_query_s']:.2f} |",
             f"| {best['tests']:,} exact tests + BH | {best['tests_s']:.2f} |",
             f"| Agent trends query, month, customer's voice | {best['trends_query_s']:.2f} |",
             f"| rank {best['agents_ranked']} agents (+{best['agents_hidden']} under min n) | "
             f"{best['rank_s']:.3f} |",
             f"| `python -m core overview --period week --json`, whole command (median) | "
             f"{r['cli']['s']:.2f} (runs {r['cli']['runs_s']}) |"]  # fmt: skip
    for page, value in r.get("render", {}).items():
        lines.append(f"| AppTest first run, {page} | {value['s']:.2f} |")
    for page, value in r.get("browser", {}).items():
        lines.append(f"| Chromium, fresh server, {page} drawn (median) | {value['s']:.2f} "
                     f"(runs {value['runs_s']}) |")  # fmt: skip
    lines += ["", f"CLI: {r['cli']['label']}, {r['cli']['tests']:,} tests, "
              f"{r['cli']['needs_attention']} need attention, {r['cli']['flagged']} significant."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
