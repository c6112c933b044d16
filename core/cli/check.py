"""`python -m core check` (the scrub, issue #29) and the integrity part of `info [--full]`.

`check` verifies every block and every column of the database file, with progress on stderr and
a summary on stdout, records the result beside the file (core.store.scrub) and exits 1 on
damage, naming what to do. `info` reports what it can learn cheaply (headers, length, the last
check's record, an incomplete write, unfinished deletions); `info --full` runs the check first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from core.errors import StoreError

GIB = 1024**3


class BlockProgress:
    """`check [#####-----] 1200/4800 blocks, 0.3 of 1.2 GiB, 0.9 GiB/s, 3 s` on stderr."""

    def __init__(self, block_bytes: int, stream=None, width: int = 28):
        self.block_bytes, self.width = block_bytes, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < (0.2 if self.tty else 10.0):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        filled = int(self.width * done / max(total, 1))
        read, size = done * self.block_bytes / GIB, total * self.block_bytes / GIB
        line = (f"check [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total} blocks, "
                f"{read:.1f} of {size:.1f} GiB, {read / elapsed:.2f} GiB/s, {elapsed:.0f} s")  # fmt: skip
        self.stream.write(("\r" + line) if self.tty else (line + "\n"))
        if done >= total:
            if self.tty:
                self.stream.write("\n")
            self.stream.write("check: reading every column of every table…\n")
        self.stream.flush()


def print_damage(problems, what_to_do: str) -> None:
    """The damage block shared by `check` and `info`."""
    print("integrity: DAMAGED")
    for line in problems:
        print(f"  {line}")
    print(f"  what to do: {what_to_do}")


def run_scrub(db: Path) -> int:
    """Check every block and column, print the summary; 0 if whole, 1 if damaged."""
    from core.store.check import REMEDY, shape
    from core.store.check_record import CLEAR, record_path
    from core.store.scrub import run_check

    if not db.exists():
        raise StoreError(f"no database at {db}; set --db or EMOSCOPE_DB.")
    try:
        progress = BlockProgress(shape(db).block_bytes)
    except StoreError:
        progress = None  # broken headers: the check reports them without reading blocks
    record = run_check(db, progress)
    if record.recovered_bytes:
        print(f"incomplete write, recovered: a failed write (a full disk?) had left "
              f"{record.recovered_bytes} torn bytes past the last checkpoint; DuckDB replayed "
              "its log and the file is whole.")  # fmt: skip
    print(f"last full check: {record.summary()} (recorded in {record_path(db).name})")
    if not record.ok:
        print_damage(record.problems, f"{REMEDY}. Writes to it are refused until then; {CLEAR}.")
        return 1
    return 0


def cmd_check(args) -> int:
    from core.store.database import resolve_db_path

    db = resolve_db_path(args.db)
    print(f"database: {db}")
    return run_scrub(db)


def quick_integrity(db: Path) -> int:
    """`info` without --full: recover an incomplete write, the cheap guards, the last check."""
    from core.store.check import (
        REMEDY,
        WHAT_TO_DO,
        IncompleteWriteError,
        quick_check,
        recover_incomplete_write,
        shape,
    )
    from core.store.check_record import CLEAR, last_check

    try:
        if shape(db).torn_tail and (dropped := recover_incomplete_write(db)):
            print(f"integrity: incomplete write, recovered (a failed write, e.g. on a full disk, "
                  f"had left {dropped} torn bytes past the last checkpoint; DuckDB replayed its "
                  "log)")  # fmt: skip
        quick_check(db)
    except IncompleteWriteError as exc:  # not damage: the file is good once the disk has room
        print(f"integrity: incomplete write, not recovered yet: {exc}")
        return 1
    except StoreError as exc:
        record = last_check(db)
        if record is not None and not record.ok:  # what the scrub found, as it found it
            print(f"last full check: {record.summary()}")
            print_damage(record.problems, f"{REMEDY}. Writes to it are refused until then; "
                         f"{CLEAR}.")  # fmt: skip
        else:
            print_damage([str(exc).split(f"; {WHAT_TO_DO}")[0]], f"{REMEDY}.")
        return 1
    record = last_check(db)
    print("last full check: " + (record.summary() if record else
                                 "never (run `python -m core check`, e.g. from a nightly timer)"))  # fmt: skip
    return 0


def add_check_parser(sub) -> None:
    """Register `check` on the CLI's subparsers."""
    p = sub.add_parser("check", help="verify every block and column of the database (a scrub: "
                       "run it nightly and after restoring a backup)")  # fmt: skip
    p.add_argument("--db", help="database file (default: $EMOSCOPE_DB or data/emoscope.duckdb)")
    p.set_defaults(func=cmd_check)
