"""The model check at scale: the evaluate queries and the page on a large labelled corpus.

    python bench/synth_db.py --clips 100000 --db /tmp/check/100k.duckdb --curve-share 0
    python bench/model_check_scale.py --db /tmp/check/100k.duckdb

Gives every clip of the synthetic corpus a label in a user's words (12 names, one unmapped,
one clip in 12 unlabelled; deterministic from the clip id), then measures, each in a fresh
process so nothing is cached: `check_corpus` (the DuckDB aggregation, the mapping and 1,000
bootstrap resamples), the clips of the largest cell, `python -m core evaluate --json` end to
end, and the Model check page's first render through AppTest.
Writes bench/results/model-check-scale-<clips>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["anger", "joy", "calm", "sad", "fear", "disgust", "surprise", "neutral", "happy",
         "Angry ", "contempt"]  # fmt: skip

_QUERIES = """
import json, sys, time
import numpy as np
from core.store.database import Store
from core.store.evaluation import cell_clips, check_corpus, raw_labels_of
from core.model.labels import EMOTIONS
store = Store(sys.argv[1])
start = time.perf_counter()
check = check_corpus(store, "synthetic")
check_s = time.perf_counter() - start
report = check.reports[0]
row, col = np.unravel_index(np.argmax(report.confusion), report.confusion.shape)
start = time.perf_counter()
labels = raw_labels_of(store, "synthetic", EMOTIONS[row], check.mapping)
clips = cell_clips(store, "synthetic", report.model_key, labels, EMOTIONS[col])
cell_s = time.perf_counter() - start
print(json.dumps({"check_s": check_s, "cell_s": cell_s, "tracks": report.n,
                  "cell_rows": len(clips), "cell_total": int(report.confusion[row, col]),
                  "unmapped": check.unmapped, "unlabelled": check.unlabelled}))
"""

_RENDER = """
import json, os, sys, time
os.environ["EMOSCOPE_DB"] = sys.argv[1]
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[2], default_timeout=300)
at.query_params["corpus"] = "synthetic"
at.switch_page("../pages/model_check.py")
start = time.perf_counter()
at.run()
print(json.dumps({"s": time.perf_counter() - start,
                  "exceptions": [str(e.value) for e in at.exception]}))
"""


def label(db: Path) -> int:
    """Give the synthetic clips labels (bench set-up, not product code: it writes directly)."""
    with duckdb.connect(str(db)) as con:
        words = "[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
        con.execute(
            f"UPDATE clips SET label = CASE WHEN hash(clip_id) % 12 = 11 THEN NULL"
            f" ELSE {words}[(hash(clip_id) % 12)::INTEGER + 1] END"
        )
        return con.execute("SELECT count(*) FROM clips").fetchone()[0]


def fresh(code: str, *args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def _runs(seconds) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds) + " s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    clips = label(args.db)
    load = [os.getloadavg()[0]]
    queries = [fresh(_QUERIES, args.db) for _ in range(3)]
    start = time.perf_counter()
    fresh("import subprocess, sys; subprocess.run([sys.executable, '-m', 'core', 'evaluate',"
          " '--corpus', 'synthetic', '--db', sys.argv[1], '--json'], check=True,"
          " capture_output=True); print('{}')", args.db)  # fmt: skip
    cli_s = time.perf_counter() - start
    renders = [fresh(_RENDER, args.db, ROOT / "dashboard" / "app.py") for _ in range(3)]
    load.append(os.getloadavg()[0])
    best = min(queries, key=lambda q: q["check_s"])
    lines = [
        f"# Model check at {clips:,} clips ({best['tracks']:,} labelled tracks)",
        "",
        f"`python bench/model_check_scale.py --db {args.db.name}` on a `bench/synth_db.py`"
        f" database; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 2 CPU cores shared,"
        f" load average {load[0]:.1f} at start, {load[1]:.1f} at end. Each figure is a fresh"
        " process (cold caches); best of 3 and all three.",
        "",
        "| what | best | all runs |",
        "|---|---|---|",
        f"| `check_corpus`: DuckDB aggregation + mapping + 1,000 resamples | {best['check_s']:.2f} s"
        f" | {_runs(q['check_s'] for q in queries)} |",
        f"| clips of the largest cell ({best['cell_total']:,} tracks, {best['cell_rows']} listed)"
        f" | {min(q['cell_s'] for q in queries):.2f} s"
        f" | {_runs(q['cell_s'] for q in queries)} |",
        f"| `python -m core evaluate --json`, whole process | {cli_s:.2f} s | one run |",
        f"| Model check page, first render (AppTest) | {min(r['s'] for r in renders):.2f} s"
        f" | {_runs(r['s'] for r in renders)} |",
        "",
        f"Unmapped labels reported: {best['unmapped']}; unlabelled clips: {best['unlabelled']:,}."
        f" Page exceptions: {sum(len(r['exceptions']) for r in renders)}.",
        "",
    ]
    out = ROOT / "bench" / "results" / f"model-check-scale-{clips}.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
