"""What a write costs now that the full check is a scrub (issue #29), on one database file.

    python bench/synth_db.py --clips 1000000 --db /tmp/scale/1m.duckdb
    python bench/write_path.py --db /tmp/scale/1m.duckdb --label 1000000 [--copy-to /tmp/copy.duckdb]

In one run, on the same file and page cache, each CLI command a fresh process (as an operator
runs it), peak RSS from /usr/bin/time:
1. the write path's guard options: headers + length + the scrub's record (what writes run now)
   against a checksum of every block (what they ran before) and a bare DuckDB open;
2. `roles` (a read) against `roles set` (a one-row write), alternating, 3 rounds;
3. `export --what clips --format parquet` of every clip, end to end (its audit row included),
   after another process wrote (the case that used to pay the whole-file check);
4. `python -m core check`: the full scrub's time and peak RSS;
5. with --copy-to: a copy of the file with one byte flipped in a middle block: `check` must exit
   non-zero and the next `roles set` must be refused in one line. The copy is removed.
Writes bench/results/write-path-<label>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.store.check import FIRST_BLOCK_AT, damaged_blocks, quick_check, shape

ROOT = Path(__file__).resolve().parents[1]


def timed_cli(*args: str, root: Path | None = None) -> dict:
    """`python -m core ARGS` in a fresh process: seconds, status, output tails and peak RSS
    (MiB, from /usr/bin/time: the child's own high-water mark)."""
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "core", *args],
                            cwd=root or ROOT, capture_output=True, text=True)  # fmt: skip
    seconds = time.monotonic() - started
    err = result.stderr.strip().splitlines()
    peak_mib = int(err[-1]) / 1024 if err and err[-1].isdigit() else None
    return {"args": " ".join(args), "seconds": round(seconds, 3), "rc": result.returncode,
            "peak_rss_mib": round(peak_mib, 1) if peak_mib else None,
            "stdout_tail": result.stdout.strip().splitlines()[-3:],
            "stderr_tail": [line for line in err[:-1] if not line.startswith("Command exited")][-3:]}  # fmt: skip


def guard_options(db: Path) -> dict:
    """Seconds of each guard the write path could run (median of runs, warm page cache)."""
    import duckdb

    def median(fn, runs: int) -> float:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return round(statistics.median(times), 6)

    def bare_open():
        duckdb.connect(str(db), read_only=True).close()

    return {"headers_length_record_s": median(lambda: quick_check(db), 20),
            "duckdb_open_s": median(bare_open, 5),
            "every_block_checksum_s": median(lambda: damaged_blocks(db), 2)}  # fmt: skip


def flipped_copy(db: Path, copy: Path) -> dict:
    """Copy, flip one byte in a middle block, then `check` and a write into the copy."""
    shutil.copy(db, copy)
    found = shape(copy)
    block = found.checked_blocks // 2
    with copy.open("r+b") as f:
        f.seek(FIRST_BLOCK_AT + block * found.block_bytes + 1000)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    check = timed_cli("check", "--db", str(copy))
    write = timed_cli("roles", "set", "ana@example.com", "viewer", "--db", str(copy))
    for leftover in copy.parent.glob(copy.name + "*"):
        leftover.unlink()
    return {"block": block, "check": check, "write_after": write}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--copy-to", type=Path, help="where to put the flipped-byte copy")
    parser.add_argument("--out", type=Path, default=Path("/tmp/write-path-export.parquet"))
    parser.add_argument("--label", required=True, help="names the result file, e.g. 1000000")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (e.g. main before #29): its `roles set` once, as well")  # fmt: skip
    args = parser.parse_args()
    db = args.db.resolve()
    result = {"db": str(db), "size_gib": round(db.stat().st_size / 2**30, 2),
              "guards": guard_options(db)}  # fmt: skip
    rounds = []
    for i in range(3):
        read = timed_cli("roles", "--db", str(db))
        write = timed_cli("roles", "set", f"ana{i}@example.com", "viewer", "--db", str(db))
        rounds.append({"roles": read, "roles_set": write})
    result["roles"] = rounds
    result["roles_median_s"] = statistics.median(r["roles"]["seconds"] for r in rounds)
    result["roles_set_median_s"] = statistics.median(r["roles_set"]["seconds"] for r in rounds)
    if args.baseline:  # the same one-row write through the other checkout's write path
        result["baseline_roles_set"] = timed_cli("roles", "set", "base@example.com", "viewer",
                                                 "--db", str(db), root=args.baseline)  # fmt: skip
    result["export_parquet"] = timed_cli("export", "--what", "clips", "--format", "parquet",
                                         "--out", str(args.out), "--db", str(db))  # fmt: skip
    args.out.unlink(missing_ok=True)
    result["scrub"] = timed_cli("check", "--db", str(db))
    if args.copy_to:
        result["flipped_copy"] = flipped_copy(db, args.copy_to)
    out = ROOT / "bench" / "results" / f"write-path-{args.label}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
