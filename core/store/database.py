"""The DuckDB store: its connections, transactions and the schema's migrations, nothing else.

Queries are plain functions in the other modules of core.store, grouped by subject (clips,
curves, aggregates, ingest_runs, batches ...); each takes the `Store` it runs on, or an open
connection for a write inside the caller's transaction.

Connections are short-lived. DuckDB lets one process hold a file read-write and then no other
process may open it at all, so a long-lived connection in the dashboard would lock out every
CLI ingest (and the reverse). Each read or write here opens the file, does its work in one
transaction and closes it; a conflicting lock is retried for `busy_timeout_s`, then reported as
StoreBusyError. Inside one process a lock serialises connections (parallel connections from
threads have crashed DuckDB), so this object is safe to share between threads.

Identity: a clip is the SHA-256 of its file bytes. Hashing bytes needs no decoding, so the cache
check of an unchanged corpus costs one read of each file and no model work; the same recording
re-encoded is a different clip, which is what a user who re-exported a file expects.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import StoreBusyError, StoreError
from core.records import ClipFilter, ClipRecord, FileOutcome, ScoredTrack, SegmentRecord
from core.store import rollup
from core.store.check import drop_torn_tail, quick_check
from core.store.query import first_row
from core.store.schema import (
    CLIP_COLUMNS,
    MIGRATIONS,
    ROLLUP_SINCE,
    SCHEMA_VERSION,
    apply_step,
)

__all__ = [
    "CLIP_COLUMNS", "DEFAULT_DB", "MIGRATIONS", "SCHEMA_VERSION", "ClipFilter", "ClipRecord",
    "FileOutcome", "ScoredTrack", "SegmentRecord", "Store", "resolve_db_path",
]  # fmt: skip

DEFAULT_DB = Path(__file__).resolve().parents[2] / "data" / "emoscope.duckdb"


def load_database_library() -> None:
    """Import DuckDB now rather than at the first read (`python -m dashboard.serve` calls it, so
    that a fresh server's first visitor does not wait for it)."""
    import duckdb  # noqa: F401


def resolve_db_path(value: str | os.PathLike | None = None) -> Path:
    """--db, else $EMOSCOPE_DB, else data/emoscope.duckdb: one rule for CLI and dashboard."""
    chosen = value or os.environ.get("EMOSCOPE_DB") or DEFAULT_DB
    return Path(chosen).expanduser().resolve()


class Store:
    """The EmoScope database file. Knows nothing of the web or the model."""

    def __init__(self, path: str | os.PathLike | None = None, busy_timeout_s: float = 30.0):
        self.path = resolve_db_path(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()
        self._schema_current = False
        self._read_checked: tuple | None = None  # the file's stamp when its version last read
        self._read_version: int | None = None  # the version read then
        self._local = threading.local()  # this thread's open reader, which nested reads share

    # -- connections -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator:
        import duckdb

        with self._lock:
            found = None
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                found = self._check_before_write()
            deadline = time.monotonic() + self.busy_timeout_s
            delay = 0.05
            while True:
                try:
                    con = duckdb.connect(str(self.path), read_only=not write)
                    break
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower():
                        if self.path.exists():
                            quick_check(self.path)  # names the damage, if that is the cause
                        raise StoreError(f"cannot open database {self.path}: {exc}") from exc
                    if time.monotonic() > deadline:
                        raise StoreBusyError(
                            f"database busy: another EmoScope process is writing to {self.path}. "
                            "Retry when it finishes (its ingest commits batch by batch), or use "
                            "another database with --db / EMOSCOPE_DB."
                        ) from exc
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
                except duckdb.Error as exc:
                    raise StoreError(f"{self.path} is not an EmoScope database: {exc}") from exc
            try:
                # DuckDB draws a progress bar on stdout for a query over 2 s: into the CLI's
                # --json output and the server's log. Progress goes through callbacks here.
                con.execute("SET enable_progress_bar = false")
                if found is not None and found.torn_tail:  # a failed write's tail; we hold the lock
                    drop_torn_tail(self.path)
                if write:
                    self._migrate(con)
                else:  # reading() migrated older files; a newer EmoScope may have written since
                    self._check_version_for_reading(con)
                yield con
            finally:
                con.close()

    def _check_version_for_reading(self, con) -> None:
        """Refuse a file a newer EmoScope wrote; read its version only when the file changed.

        The catalog query costs ~40 ms per connection on a large file, and a page opens several.
        An open read-only connection keeps every writer out, so the stamp taken here holds for
        the whole connection.
        """
        stamp = self.file_stamp()
        if stamp != self._read_checked:
            self._read_version = self._version(con)
            self._refuse_newer(self._read_version)
            self._read_checked = stamp

    def file_stamp(self) -> tuple:
        """Size and modification time of the file and its WAL: changes with every write."""
        stats = [p.stat() for p in (self.path, Path(f"{self.path}.wal")) if p.exists()]
        return tuple((s.st_size, s.st_mtime_ns) for s in stats)

    def _check_before_write(self):
        """Refuse a damaged file before DuckDB writes to it (core.store.check.quick_check).

        Before every write connection: it costs a stat and a 12 KiB read whatever the file's size
        (bench/results/write-path.md), and so it also sees, at once, damage that a scrub in
        another process recorded. Blocks the write reads DuckDB verifies itself; the rest are the
        scrub's (`python -m core check`). Returns the file's Shape (None for a new file).
        """
        return quick_check(self.path)

    def check_writable(self) -> None:
        """Refuse a damaged file now (StoreError naming it), before long work that ends in a
        write: an analysis must not load or download a model only to fail at its first batch."""
        self._check_before_write()

    @contextlib.contextmanager
    def writing(self, changes_results: bool = True) -> Iterator:
        """A connection inside one transaction: all of it commits, or none of it does.

        Unless the caller says it leaves clips, predictions and corpora as they were
        (`changes_results=False`), the transaction marks the Overview's rollup stale
        (core.store.rollup): a writer that forgets to say so is only slower, never wrong.
        """
        with self._connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            if changes_results:
                rollup.bump(con)
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator:
        """A read-only connection (shared with other readers, never with a writer).

        Nested in another `reading()` of this thread, it is a cursor on that connection: one
        opening of the file serves every query of, say, one search (`with store.reading():`
        around them), where each had paid for opening it alone.
        """
        outer = getattr(self._local, "reader", None)
        if outer is not None:
            cursor = outer.cursor()  # its own result set on the same open file
            try:
                yield cursor
            finally:
                cursor.close()
            return
        if not self._schema_current:
            # Once per Store: create the file or migrate an older one, so readers never meet
            # an old schema (e.g. the dashboard opening a database from an earlier version).
            self._ensure_schema()
        with self._connect(write=False) as con:
            self._local.reader = con
            try:
                yield con
            finally:
                self._local.reader = None

    def _ensure_schema(self) -> None:
        """Migrate only when needed: a write connection takes DuckDB's write lock, which keeps
        every other process out while it is open, and a reader should not hold that."""
        if self.path.exists():
            with self._connect(write=False):  # reads the version (_check_version_for_reading)
                pass
            if self._read_version == SCHEMA_VERSION:
                self._schema_current = True
                return
        self.initialise()

    def initialise(self) -> None:
        """Create the file and bring its schema up to date."""
        with self._connect(write=True):
            pass
        self._schema_current = True

    def _version(self, con) -> int:
        exists = first_row(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info'"
            )
        )[0]
        if not exists:
            return 0
        return first_row(con.execute("SELECT max(version) FROM schema_info"))[0] or 0

    def _refuse_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer EmoScope (schema {version}, this one reads "
                f"{SCHEMA_VERSION}); upgrade EmoScope."
            )

    def _migrate(self, con) -> None:
        version = self._version(con)
        self._refuse_newer(version)
        if version == SCHEMA_VERSION:
            return
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL)")
        for step in range(version + 1, SCHEMA_VERSION + 1):
            apply_step(con, step)
        if version < ROLLUP_SINCE:  # count what an older file already holds
            rollup.rebuild(con)
        con.execute("COMMIT")
