"""The last full check's record, `<database>.check.json` beside the file (issue #29).

The scrub (core.store.scrub) writes it; the write path (core.store.check.quick_check) reads it
before every write, so a file the scrub found damaged is refused without reading the file. The
record names the file by device and inode: a file moved aside or replaced by a new one (another
inode) is not held to it; a backup copied over the same file keeps the refusal until
`python -m core check` passes (the README says to run it after a restore).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import StoreError

RECORD_SUFFIX = ".check.json"
REMEDY = "restore it from a backup, or move it aside to start a new database"
CLEAR = "`python -m core check` clears this once the file is whole"


@dataclass(frozen=True)
class CheckRecord:
    """One full check of one file: when, how long, what it found, and which file it was."""

    checked_at: str  # ISO 8601, local time with its offset
    seconds: float
    blocks: int
    bad_blocks: tuple[int, ...]
    problems: tuple[str, ...]
    recovered_bytes: int  # a torn tail of an incomplete write, dropped before the check
    device: int
    inode: int
    size: int

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: the result, when, and how long it took."""
        result = "ok" if self.ok else f"DAMAGED ({len(self.problems)} problem(s))"
        recovered = (f"; incomplete write, recovered ({self.recovered_bytes} torn bytes dropped)"
                     if self.recovered_bytes else "")  # fmt: skip
        return (f"{result}: {self.blocks} blocks checked at {self.checked_at[:19]} in "
                f"{self.seconds:.1f} s{recovered}")  # fmt: skip


def record_path(db: Path) -> Path:
    """Where the last check of `db` is recorded: next to it."""
    return db.with_name(db.name + RECORD_SUFFIX)


def write_record(path: Path, record: CheckRecord) -> None:
    """Replace the record atomically: a reader sees the old one or the new one, never half."""
    spare = path.with_name(f".{path.name}.{os.getpid()}")
    spare.write_text(json.dumps(asdict(record), indent=1))
    os.replace(spare, path)


def last_check(db: Path) -> CheckRecord | None:
    """The last recorded check of the file now at `db`; None if none (or of another file)."""
    try:
        fields = json.loads(record_path(db).read_text())
        info = db.stat()
        record = CheckRecord(**{**fields, "bad_blocks": tuple(fields["bad_blocks"]),
                                "problems": tuple(fields["problems"])})  # fmt: skip
    except (OSError, ValueError, TypeError, KeyError):
        return None  # none yet, or unreadable: the next check writes a new one
    if (record.device, record.inode) != (info.st_dev, info.st_ino):
        return None  # the file was replaced (moved aside, a new one created): not this file's
    return record


def refuse_if_recorded_damaged(db: Path) -> None:
    """StoreError in one line if the last check of this very file found damage (a small read)."""
    record = last_check(db)
    if record is None or record.ok:
        return
    if record.bad_blocks:
        shown = ", ".join(map(str, record.bad_blocks[:5]))
        shown += " …" if len(record.bad_blocks) > 5 else ""
        found = f"{len(record.bad_blocks)} block(s) fail their checksum (block {shown})"
    else:
        found = record.problems[0].removeprefix(f"{db} is damaged: ")
    raise StoreError(f"{db} is damaged: the full check at {record.checked_at[:19]} found "
                     f"{found}; nothing was written. {REMEDY.capitalize()}; {CLEAR}.")  # fmt: skip
