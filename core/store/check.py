"""Is the database file damaged? A quick check before every write, a full one for `info`.

DuckDB verifies a block's checksum only when a query reads that block, so a file with damage in
the middle opens fine, takes writes (it grows, a WAL appears) and fails later, half-way through
an ingest. The quick check reads the file's headers and verifies every block's checksum itself
(numpy, about 0.3 s per GB from the page cache) before a write connection is opened, so a
damaged file is refused with nothing written. `full_check` adds a scan of every column of every
table through DuckDB, as `python -m core info` reports it.

File layout (DuckDB storage, block size from the header, 256 KiB by default): a main header
(4 KiB: checksum, b"DUCK", storage version, flags), two database headers (4 KiB each; the one with
the higher iteration is current: block_count, block size), then block_count blocks, each an
8-byte checksum of the rest of the block. A block's checksum is 5381 XOR the XOR of every 64-bit
little-endian word multiplied by 0xbf58476d1ce4e5b9 (DuckDB's Checksum, src/common/checksum.cpp).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import StoreBusyError, StoreError

HEADER_BYTES = 4096
FIRST_BLOCK_AT = 3 * HEADER_BYTES
_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_SEED = np.uint64(5381)
_CHUNK_BLOCKS = 32  # blocks verified per read: 8 MiB at the default size, bounded memory
REMEDY = "restore it from a backup, or move it aside to start a new database"
WHAT_TO_DO = f"{REMEDY}; `python -m core info` shows what is damaged"


@dataclass(frozen=True)
class _Layout:
    block_bytes: int
    block_count: int


def checksum(buffer: np.ndarray) -> int:
    """DuckDB's checksum of a buffer whose length is a multiple of 8 bytes."""
    with np.errstate(over="ignore"):  # the multiply is meant to wrap around 2**64
        words = buffer.view("<u8") * _MULTIPLIER
    return int(np.bitwise_xor.reduce(words) ^ _SEED)


def _checked(block: np.ndarray) -> bool:
    return checksum(block[8:]) == int(block[:8].view("<u8")[0])


def _layout(path: Path, head: bytes) -> _Layout:
    """The current database header's block size and count; StoreError if the headers are bad."""
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
                current = (iteration, _Layout(block_bytes, count))
    if current is not None and not (4096 <= current[1].block_bytes <= 2**30
                                    and current[1].block_bytes % 8 == 0):  # fmt: skip
        raise StoreError(f"{path} is damaged: its header gives an impossible block size; "
                         f"{WHAT_TO_DO}.")  # fmt: skip
    if current is None:
        raise StoreError(f"{path} is damaged: both database headers fail their checksums; "
                         f"{WHAT_TO_DO}.")  # fmt: skip
    return current[1]


def damaged_blocks(path: Path) -> tuple[int, list[int]]:
    """(blocks in the file, ids of those whose checksum fails); StoreError for bad headers."""
    with path.open("rb") as f:
        layout = _layout(path, f.read(FIRST_BLOCK_AT))
        size = path.stat().st_size
        # DuckDB truncates free blocks off the end, so the header's block_count may exceed the
        # blocks present; but it always writes whole blocks: a partial one means a cut copy.
        present, partial = divmod(size - FIRST_BLOCK_AT, layout.block_bytes)
        if partial:
            raise StoreError(f"{path} is damaged: it is cut short (it ends {partial} bytes into "
                             f"a block); {WHAT_TO_DO}.")  # fmt: skip
        count = min(layout.block_count, present)
        bad: list[int] = []
        for first in range(0, count, _CHUNK_BLOCKS):
            n = min(_CHUNK_BLOCKS, count - first)
            chunk = np.frombuffer(f.read(n * layout.block_bytes), dtype=np.uint8)
            for i, block in enumerate(chunk.reshape(n, layout.block_bytes)):
                if not _checked(block):
                    bad.append(first + i)
    return count, bad


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def quick_check(path: Path, attempts: int = 3) -> None:
    """Raise StoreError naming the file and what to do if it is damaged; a new file passes.

    A file that changes while it is read (another process checkpointing) is read again; one
    that never holds still is left to DuckDB, which will make this writer wait for that one.
    """
    for attempt in range(attempts):
        try:
            before = _stamp(path)
            if before[0] == 0:
                return  # a new, empty file
            _, bad = damaged_blocks(path)
            error = None
        except FileNotFoundError:
            return  # created by the write that follows
        except StoreError as exc:
            bad, error = [], exc
        if _stamp(path) == before:
            break
        time.sleep(0.2 * (attempt + 1))
    else:
        return
    if error is not None:
        raise error
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (" …" if len(bad) > 5 else "")
        raise StoreError(f"{path} is damaged: {len(bad)} block(s) fail their checksum "
                         f"(block {shown}); nothing was written. {WHAT_TO_DO.capitalize()}.")  # fmt: skip


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


def full_check(path: Path) -> list[str]:
    """Every problem found: headers, block checksums, then a read of every column; [] if none."""
    import duckdb

    try:
        blocks, bad = damaged_blocks(path)
    except StoreError as exc:
        return [str(exc)]
    problems = [f"{len(bad)} of {blocks} blocks fail their checksum: {bad[:20]}"] if bad else []
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if "lock" in str(exc).lower():
            raise StoreBusyError(f"{path} is being written by another process; run the check "
                                 "again when it finishes.") from exc  # fmt: skip
        return [*problems, f"DuckDB cannot open it: {str(exc).splitlines()[0]}"]
    try:
        problems += scan_every_column(con)
    finally:
        con.close()
    return problems
