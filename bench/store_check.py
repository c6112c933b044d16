"""Time the quick check a write runs first (every block's checksum) on a database of a given size.

python bench/store_check.py [MB]   (default 400; the file goes to /tmp and is removed)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import duckdb

from core.store.check import full_check, quick_check


def main(megabytes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.duckdb"
        con = duckdb.connect(str(path))
        con.execute("SET threads = 1")  # random doubles do not compress: 8 bytes per row
        con.execute("CREATE TABLE t AS SELECT random() AS r FROM range(?)",
                    [megabytes * 1024**2 // 7])  # fmt: skip
        con.close()
        size_mb = path.stat().st_size / 1024**2
        times = []
        for _ in range(3):
            start = time.perf_counter()
            quick_check(path)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert full_check(path) == []
        full = time.perf_counter() - start
        print(f"| {size_mb:.0f} MiB | {times[0]:.2f} | {min(times):.2f} | {full:.2f} |")


if __name__ == "__main__":
    print("| file | quick check, first (s) | quick check, warm (s) | full check (s) |")
    print("|---|---|---|---|")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
