"""Exports with and without their row count (#30): wall time, CPU and peak memory of one export.

    python bench/synth_db.py --clips 100000 --db /tmp/exp/100k.duckdb
    git archive f764997 core | tar -x -C /tmp/exp/old        # the code before #30, for `old`
    for i in 1 2 3; do for m in old new page; do
        python bench/export_progress.py $m clips csv --db /tmp/exp/100k.duckdb --old /tmp/exp/old
    done; done

One export per process (peak RSS is the process's): `old` runs the export of the code in
`--old` (its single COPY), `new` this checkout's with a progress callback and its own count
query (the CLI's path), `page` the same with the count handed over (the Exports page's path;
its CPU includes that count). Prints one line; the file is removed afterwards.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["old", "new", "page"])
    parser.add_argument("what", choices=["clips", "frames", "embeddings"])
    parser.add_argument("fmt", choices=["csv", "parquet"])
    parser.add_argument("--db", required=True)
    parser.add_argument("--old", help="a folder holding the old `core` package (for `old`)")
    parser.add_argument("--out", default="/tmp", help="folder of the written file")
    args = parser.parse_args()
    if args.mode == "old" and not args.old:
        parser.error("`old` needs --old DIR (git archive COMMIT core | tar -x -C DIR)")
    sys.path.insert(0, args.old if args.mode == "old" else str(ROOT))
    from core.store.database import Store
    from core.store.export import count_rows, export
    from core.store.models import list_models

    store = Store(args.db)
    key = str(list_models(store).model_key[0])
    calls: list[tuple[float, int]] = []
    options: dict = {}
    if args.mode != "old":
        options["progress"] = lambda done, total: calls.append((time.perf_counter(), done))
    if args.mode == "page":
        options["expected"] = count_rows(store, key)[args.what]
    out = Path(args.out) / f"export-progress-{args.mode}-{args.what}.{args.fmt}"
    start = time.perf_counter()
    rows = export(store, args.what, args.fmt, out, key, **options)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counted = ""
    if calls:
        first = next((t - start for t, done in calls if done > 0), float("nan"))
        counted = f" | {len(calls)} reports, first rows counted at {first:.2f} s"
    print(f"{args.mode} {args.what}.{args.fmt}: {rows} rows, wall {wall:.2f} s, cpu "
          f"{usage.ru_utime + usage.ru_stime:.2f} s, peak RSS {usage.ru_maxrss / 1024:.0f} MB, "
          f"{out.stat().st_size / 1e6:.1f} MB{counted}", flush=True)  # fmt: skip
    out.unlink()


if __name__ == "__main__":
    main()
