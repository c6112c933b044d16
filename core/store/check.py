"""Is the database file damaged? Cheap guards before every write; every block in the scrub.

DuckDB verifies a block's checksum when a query reads that block, so damage in the middle of a
file is never returned, copied or written over: a write that reads a damaged block fails with
nothing committed. What DuckDB does not check is what no query reads. Checking every block
before every write made a one-row write cost a read of the whole file (20-36 s at 1M clips,
issue #29), so the work is split (measured in bench/results/write-path.md):

- `quick_check`, before every write connection, costs a stat and a 12 KiB read: the headers,
  the file's length against whole blocks, and the scrub's record (core.store.check_record) of damage
  it found in this file. A file cut short or with broken headers, or one the scrub found
  damaged, is refused with nothing written.
- `damaged_blocks` verifies every block's checksum (numpy, about 0.3 s per GB from the page
  cache); `full_check` adds a scan of every column of every table through DuckDB. The scrub
  (`python -m core check`, `info --full`, the Admin page) runs both and records the result.

A failed write (a full disk) can leave a block half-written past the blocks the current header
knows: nothing refers to it, DuckDB opens the file and replays its log (issue #31 item 3). That
is an incomplete write, not damage: `recover_incomplete_write` drops the torn tail under DuckDB's
lock and checkpoints. A file that ends inside the blocks its header counts lost data: damage.

File layout (DuckDB storage, block size from the header, 256 KiB by default): a main header
(4 KiB: checksum, b"DUCK", storage version, flags), two database headers (4 KiB each; the one with
the higher iteration is current: block_count, block size), then block_count blocks, each an
8-byte checksum of the rest of the block. A block's checksum is 5381 XOR the XOR of every 64-bit
little-endian word multiplied by 0xbf58476d1ce4e5b9 (DuckDB's Checksum, src/common/checksum.cpp).
The header is written only after every block of a checkpoint is on disk, so no block at or past
its block_count is in use.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import StoreBusyError, StoreError
from core.store.check_record import REMEDY, refuse_if_recorded_damaged

log = logging.getLogger(__name__)

HEADER_BYTES = 4096
FIRST_BLOCK_AT = 3 * HEADER_BYTES
_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_SEED = np.uint64(5381)
_CHUNK_BLOCKS = 32  # blocks verified per read: 8 MiB at the default size, bounded memory
# The column scan's DuckDB cache: unbounded (80 % of RAM) it held 9 GB at 1M clips while the
# scrub ran beside the server; at 1 GB it took as long (bench/results/write-path.md).
SCAN_MEMORY_LIMIT = "1GB"
WHAT_TO_DO = f"{REMEDY}; `python -m core check` shows what is damaged"

BlockProgress = Callable[[int, int], None]  # (blocks verified, blocks in all)


class IncompleteWriteError(StoreError):
    """An incomplete write that could not be recovered yet (the disk is still full): not damage."""


@dataclass(frozen=True)
class Shape:
    """What the headers and the file's length say: block size, blocks the header counts, whole
    blocks present, and bytes of a last, partial block (0 when the file ends on a boundary)."""

    block_bytes: int
    block_count: int
    present: int
    partial: int

    @property
    def torn_tail(self) -> bool:
        """A partial block past every block the header counts: a write that failed, harmless."""
        return self.partial > 0 and self.present >= self.block_count

    @property
    def cut_short(self) -> bool:
        """The file ends inside the blocks its header counts: data in use is missing."""
        return self.partial > 0 and self.present < self.block_count

    @property
    def checked_blocks(self) -> int:
        # DuckDB truncates free blocks off the end, so block_count may exceed the blocks present.
        return min(self.block_count, self.present)


def checksum(buffer: np.ndarray) -> int:
    """DuckDB's checksum of a buffer whose length is a multiple of 8 bytes."""
    with np.errstate(over="ignore"):  # the multiply is meant to wrap around 2**64
        words = buffer.view("<u8") * _MULTIPLIER
    return int(np.bitwise_xor.reduce(words) ^ _SEED)


def _checked(block: np.ndarray) -> bool:
    return checksum(block[8:]) == int(block[:8].view("<u8")[0])


def _layout(path: Path, head: bytes) -> tuple[int, int]:
    """The current database header's (block size, block count); StoreError for bad headers."""
    if len(head) < FIRST_BLOCK_AT or head[8:12] != b"DUCK":
        raise StoreError(f"{path} is not a DuckDB database file (no DuckDB header); {WHAT_TO_DO}.")
    headers = np.frombuffer(head, dtype=np.uint8)
    if not _checked(headers[:HEADER_BYTES]):
        raise StoreError(f"{path} is damaged: its main header fails its checksum; {WHAT_TO_DO}.")
    current = None
    for at in (HEADER_BYTES, 2 * HEADER_BYTES):  # DuckDB alternates between two headers
        if _checked(headers[at : at + HEADER_BYTES]):
            iteration, _, _, count, block_bytes = struct.unpack_from("<5Q", head, at + 8)
            if current is None or iteration > current[0]:
                current = (iteration, block_bytes, count)
    if current is None:
        raise StoreError(f"{path} is damaged: both database headers fail their checksums; "
                         f"{WHAT_TO_DO}.")  # fmt: skip
    if not (4096 <= current[1] <= 2**30 and current[1] % 8 == 0):
        raise StoreError(f"{path} is damaged: its header gives an impossible block size; "
                         f"{WHAT_TO_DO}.")  # fmt: skip
    return current[1], current[2]


def shape(path: Path) -> Shape:
    """Headers and length (a 12 KiB read and a stat); StoreError for bad headers."""
    with path.open("rb") as f:
        block_bytes, block_count = _layout(path, f.read(FIRST_BLOCK_AT))
        size = os.fstat(f.fileno()).st_size
    present, partial = divmod(size - FIRST_BLOCK_AT, block_bytes)
    return Shape(block_bytes, block_count, present, partial)


def _cut_short(path: Path, found: Shape) -> StoreError:
    return StoreError(f"{path} is damaged: it is cut short (it ends {found.partial} bytes into "
                      f"a block); {WHAT_TO_DO}.")  # fmt: skip


def damaged_blocks(path: Path, on_progress: BlockProgress | None = None) -> tuple[int, list[int]]:
    """(blocks checked, ids of those whose checksum fails): every block the header counts.

    StoreError for bad headers or a file cut short; a torn tail past those blocks (an incomplete
    write) is not read: nothing refers to it.
    """
    report = on_progress or (lambda done, total: None)
    found = shape(path)
    if found.cut_short:
        raise _cut_short(path, found)
    count, bad = found.checked_blocks, []
    with path.open("rb") as f:
        f.seek(FIRST_BLOCK_AT)
        for first in range(0, count, _CHUNK_BLOCKS):
            n = min(_CHUNK_BLOCKS, count - first)
            chunk = np.frombuffer(f.read(n * found.block_bytes), dtype=np.uint8)
            for i, block in enumerate(chunk.reshape(n, found.block_bytes)):
                if not _checked(block):
                    bad.append(first + i)
            report(first + n, count)
    return count, bad


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def quick_check(path: Path, attempts: int = 3) -> Shape | None:
    """The write path's guard: raise StoreError naming the file and what to do if its headers are
    broken, it is cut short, or the scrub found it damaged; a new file passes.

    It reads 12 KiB and the scrub's small record, whatever the file's size. A file that changes
    while it is read (another process checkpointing) is read again; one that never holds still
    is left to DuckDB, which will make this writer wait for that one. Returns what it read
    (None for a new file): a torn tail is the writer's to drop (`drop_torn_tail`).
    """
    for attempt in range(attempts):
        try:
            before = _stamp(path)
            if before[0] == 0:
                return None  # a new, empty file
            found, error = shape(path), None
        except FileNotFoundError:
            return None  # created by the write that follows
        except StoreError as exc:
            found, error = None, exc
        if _stamp(path) == before:
            break
        time.sleep(0.2 * (attempt + 1))
    else:
        return None
    if error is not None:
        raise error
    if found.cut_short:
        raise _cut_short(path, found)
    refuse_if_recorded_damaged(path)
    return found


def drop_torn_tail(path: Path) -> int:
    """Truncate a torn tail past the header's blocks; bytes dropped. Only while the caller holds
    DuckDB's write lock (an open read-write connection): then no writer is mid-checkpoint."""
    found = shape(path)
    if not found.torn_tail:
        return 0
    os.truncate(path, path.stat().st_size - found.partial)
    log.warning("%s: incomplete write, recovered (dropped a %d-byte torn block past the last "
                "checkpoint)", path, found.partial)  # fmt: skip
    return found.partial


def recover_incomplete_write(path: Path) -> int:
    """Drop a torn tail left by a failed write and let DuckDB replay its log; bytes dropped.

    Only a partial block past every block the header counts is dropped (nothing refers to it),
    and only while this process holds DuckDB's write lock, so no other writer is mid-checkpoint.
    StoreBusyError if another process holds the file; 0 when there is nothing to recover.
    """
    import duckdb

    if not path.exists() or path.stat().st_size == 0 or not shape(path).torn_tail:
        return 0
    try:
        con = duckdb.connect(str(path))  # replays the log of the transactions that committed
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreBusyError(f"{path} is being written by another process; recover it "
                                 "when that finishes (`python -m core check`).") from exc  # fmt: skip
        raise StoreError(f"{path}: DuckDB cannot open it to recover an incomplete write "
                         f"({str(exc).splitlines()[0]}); {WHAT_TO_DO}.") from exc  # fmt: skip
    try:
        dropped = drop_torn_tail(path)  # read again under the lock: the open may have checkpointed
        con.execute("CHECKPOINT")
    except duckdb.Error as exc:  # most likely the disk is still full
        raise IncompleteWriteError(f"{path} holds an incomplete write that could not be recovered "
                         f"({str(exc).splitlines()[0]}); free disk space, then run "
                         "`python -m core check`.") from exc  # fmt: skip
    finally:
        con.close()
    return dropped


def scan_every_column(con) -> list[str]:
    """Read every value of every table, so DuckDB verifies the checksum of every data block.

    A hash of each column, aggregated in SQL, touches every value (list children included)
    without sending the corpus to Python. Returns one line per table that cannot be read.
    """
    import duckdb

    problems = []
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " ORDER BY table_name"
    ).fetchall()]  # fmt: skip
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'  # names come from the catalog, not users
        try:
            con.execute(f"SELECT bit_xor(hash(COLUMNS(*))) FROM {quoted}").fetchall()
        except duckdb.Error as exc:
            problems.append(f"table {table}: {str(exc).splitlines()[0]}")
    return problems


@dataclass(frozen=True)
class Findings:
    """What a full check found: blocks checked, those failing their checksum, every problem."""

    blocks: int
    bad_blocks: tuple[int, ...]
    problems: tuple[str, ...]


def verify(path: Path, on_progress: BlockProgress | None = None) -> Findings:
    """Headers, every block's checksum, then a read of every column of every table."""
    import duckdb

    try:
        blocks, bad = damaged_blocks(path, on_progress)
    except StoreError as exc:
        return Findings(0, (), (str(exc),))
    try:
        con = _open_for_scan(path)
    except duckdb.Error as exc:
        text = str(exc).lower()
        if "lock" in text or not (isinstance(exc, duckdb.IOException | duckdb.SerializationException)
                                  or "corrupt" in text or "checksum" in text):  # fmt: skip
            # Held by a writer, or by a connection of this process: busy, never "damaged".
            raise StoreBusyError(f"{path} cannot be checked now ({str(exc).splitlines()[0]}); "
                                 "run the check again when no write is running.") from exc  # fmt: skip
        line = f"DuckDB cannot open it: {str(exc).splitlines()[0]}"
        return Findings(blocks, tuple(bad), (*_block_lines(blocks, bad), line))
    try:
        # Confirmed while this read-only connection keeps writers out: a block that a writer
        # was filling while the pass above read it is whole now; a damaged one still fails.
        bad = _still_bad(path, bad)
        problems = [*_block_lines(blocks, bad), *scan_every_column(con)]
    finally:
        con.close()
    return Findings(blocks, tuple(bad), tuple(problems))


def _open_for_scan(path: Path):
    """A read-only connection with the scan's memory cap. DuckDB refuses a second configuration
    for a file this process already holds open (the dashboard reading while its Admin page runs
    a check): then the scan shares the existing one, uncapped, rather than fail."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True,
                             config={"memory_limit": SCAN_MEMORY_LIMIT})  # fmt: skip
    except duckdb.Error as exc:
        if "different configuration" not in str(exc):
            raise
        con = duckdb.connect(str(path), read_only=True)
    con.execute("SET enable_progress_bar = false")  # a full scan takes minutes: no bar on stdout
    return con


def _block_lines(blocks: int, bad: list[int]) -> list[str]:
    return [f"{len(bad)} of {blocks} blocks fail their checksum: {bad[:20]}"] if bad else []


def full_check(path: Path, on_progress: BlockProgress | None = None) -> list[str]:
    """Every problem `verify` finds, one line each; [] if none."""
    return list(verify(path, on_progress).problems)


def _still_bad(path: Path, blocks: list[int]) -> list[int]:
    """The blocks among `blocks` whose checksum fails when read again."""
    if not blocks:
        return []
    block_bytes = shape(path).block_bytes
    bad = []
    with path.open("rb") as f:
        for block in blocks:
            f.seek(FIRST_BLOCK_AT + block * block_bytes)
            data = np.frombuffer(f.read(block_bytes), dtype=np.uint8)
            if len(data) < block_bytes or not _checked(data):
                bad.append(block)
    return bad
