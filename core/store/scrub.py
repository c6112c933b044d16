"""The scrub: a full check of the database file, its result recorded beside it (issue #29).

`python -m core check`, `info --full` and the Admin page's background job call `run_check`: it
recovers an incomplete write (core.store.check), verifies every block and every column, and
records the result (core.store.check_record), which every later write reads instead of the file.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from core.errors import StoreBusyError, StoreError
from core.store.check import BlockProgress, recover_incomplete_write, verify
from core.store.check_record import CheckRecord, record_path, write_record

__all__ = ["run_check"]


def run_check(db: Path, on_progress: BlockProgress | None = None) -> CheckRecord:
    """Recover an incomplete write, check every block and column, record and return the result.

    StoreBusyError if another process writes the file throughout (the column scan needs a
    read-only connection); StoreError if the file does not exist.
    """
    if not db.exists():
        raise StoreError(f"no database at {db}; set --db or EMOSCOPE_DB.")
    started = time.monotonic()
    try:
        recovered = recover_incomplete_write(db)
    except StoreBusyError:
        recovered = 0  # a live writer's tail is its own; the block pass ignores a torn tail
    findings = verify(db, on_progress)
    info = db.stat()
    record = CheckRecord(
        checked_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        seconds=round(time.monotonic() - started, 3), blocks=findings.blocks,
        bad_blocks=findings.bad_blocks, problems=findings.problems, recovered_bytes=recovered,
        device=info.st_dev, inode=info.st_ino, size=info.st_size,
    )  # fmt: skip
    write_record(record_path(db), record)
    return record
