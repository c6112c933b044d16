"""Delete a corpus: its clips, and every result and media file that no other corpus uses.

A clip's id is the hash of its bytes, so one recording may sit in several corpora and share one
set of predictions, curves, embeddings and segments. Only clips that no OTHER corpus holds lose
their results; a projection that holds any of those clips is removed too (its selection can no
longer occur). Media files (uploads kept for playback) are removed only when they lie inside
the media folder and no other clip row points at them: files a corpus was ingested from, in the
user's own folders, are never touched.

All data goes in ONE transaction, with its audit row; the media files are unlinked only after
it commits, so a rollback never leaves rows pointing at missing audio. DuckDB cannot delete a
row whose referencing rows were deleted in the same transaction (its foreign-key limitation),
so the corpus's run log and its name follow in two short transactions; a crash between them
leaves an empty corpus that running the deletion again removes.

A crash between the commit and the unlinks would leave the files for good, since no row names
them any more (issue #31 item 6). So the files are written to a journal (`media.deleting/`,
beside the media folder) before the transaction commits; the journal goes only once they are
unlinked. The next deletion (or `delete-corpus` rerun) finishes any journal left behind: it
unlinks the files that no clip row names, which is exactly the set the committed deletion
freed (a deletion that rolled back left its rows, so its files stay). A journal in use is held
with flock, which the kernel releases when its process dies, so a live deletion's journal is
never finished by another process. `python -m core info` reports unfinished journals and media
files that no clip uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.access import audit
from core.access.principal import Principal, require
from core.errors import InputError
from core.store import rollup
from core.store.schema import embedding_table

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DeletionReport:
    """What a deletion removed (row counts and media files)."""

    corpus: str
    clips: int
    predictions: int
    frame_curves: int
    embeddings: int
    segments: int
    projections: int
    runs: int
    media_files: int
    transcripts: int = 0  # transcript segments (core.store.transcripts)

    def summary(self) -> str:
        said = f", {self.transcripts} transcript segments" if self.transcripts else ""
        return (
            f"deleted corpus {self.corpus!r}: {self.clips} clips, {self.predictions} predictions, "
            f"{self.frame_curves} frame curves, {self.embeddings} embeddings, {self.segments} "
            f"segments, {self.projections} projections, {self.runs} ingest runs, "
            f"{self.media_files} media files{said}"
        )


# Clips of the corpus that no other corpus holds: their results go with them.
_ORPHANS = (
    "CREATE TEMP TABLE doomed AS SELECT DISTINCT clip_id FROM clips WHERE corpus_id = ?"
    " AND clip_id NOT IN (SELECT clip_id FROM clips WHERE corpus_id <> ?)"
)
# Paths of the corpus's clips that no other clip row uses (candidates for media removal).
_PATHS = (
    "SELECT DISTINCT source_path FROM clips WHERE corpus_id = ? AND source_path IS NOT NULL"
    " AND source_path NOT IN (SELECT source_path FROM clips WHERE corpus_id <> ?"
    " AND source_path IS NOT NULL)"
)


def delete_corpus(
    store, principal: Principal, name: str, media_dir: Path, on_progress: Progress | None = None
) -> DeletionReport:
    """Delete corpus `name` (admins only); InputError if there is no such corpus."""
    require(principal, "delete_corpus")
    say = on_progress or (lambda _stage: None)
    finished = finish_pending_removals(store, media_dir)  # what a crashed deletion left behind
    say("removing rows")
    journal = _Journal(media_dir)
    try:
        counts, corpus_id, paths = _delete_data(store, principal, name, journal)
        runs = _delete_run_log(store, corpus_id)
        say("removing media files")
        removed = remove_media(paths, media_dir)
    except BaseException:
        journal.release()  # its files (if it committed) are finished by the next deletion
        raise
    journal.done()  # the files are gone: nothing left to finish
    return DeletionReport(corpus=name, runs=len(runs), media_files=removed + finished, **counts)


def _delete_data(store, principal: Principal, name: str, journal: _Journal):
    """The one transaction: rows, audit and rollup; (row counts, corpus id, media paths)."""
    with store.writing() as con:
        row = con.execute("SELECT corpus_id FROM corpora WHERE name = ?", [name]).fetchone()
        if row is None:
            raise InputError(f"no corpus named {name!r}.")
        corpus_id = row[0]
        con.execute(_ORPHANS, [corpus_id, corpus_id])
        paths = [p for (p,) in con.execute(_PATHS, [corpus_id, corpus_id]).fetchall()]
        journal.record(name, paths)  # on disk before the commit: a crash after it loses nothing
        counts = _delete_rows(con, corpus_id)
        audit.record_in(con, principal.email, "delete_corpus", f"{name}: {counts['clips']} clips")
        con.execute("DROP TABLE doomed")
        rollup.rebuild(con)  # in the same transaction: the Overview never sums deleted clips
    return counts, corpus_id, paths


def _delete_run_log(store, corpus_id: int) -> list:
    """The run log and the empty corpus row: no clip or result changes (core.store.rollup)."""
    with store.writing(changes_results=False) as con:  # a separate transaction per level
        runs = con.execute(
            "DELETE FROM ingest_runs WHERE corpus_id = ? RETURNING run_id", [corpus_id]
        ).fetchall()
    with store.writing(changes_results=False) as con:
        con.execute("DELETE FROM corpora WHERE corpus_id = ?", [corpus_id])
    return runs


def _delete_rows(con, corpus_id: int) -> dict[str, int]:
    """Delete the corpus's clips and the results of its orphaned clips; row counts by kind."""

    def delete(sql: str, params=()) -> int:
        return con.execute(sql, list(params)).fetchone()[0]  # DuckDB answers a DELETE's count

    in_doomed = "clip_id IN (SELECT clip_id FROM doomed)"
    dims = [d for (d,) in con.execute("SELECT DISTINCT embedding_dim FROM models").fetchall()]
    counts = {
        "predictions": delete(f"DELETE FROM predictions WHERE {in_doomed}"),
        "frame_curves": delete(f"DELETE FROM frame_curves WHERE {in_doomed}"),
        "segments": delete(f"DELETE FROM segments WHERE {in_doomed}"),
        "transcripts": delete(f"DELETE FROM transcripts WHERE {in_doomed}"),
        "embeddings": sum(
            delete(f"DELETE FROM {embedding_table(dim)} WHERE {in_doomed}") for dim in dims
        ),
    }
    con.execute(f"DELETE FROM transcribed WHERE {in_doomed}")  # the cache marks go too
    stale = [k for (k,) in con.execute(
        f"SELECT DISTINCT projection_key FROM projections WHERE {in_doomed}"
    ).fetchall()]  # fmt: skip
    con.execute(
        "DELETE FROM projections WHERE projection_key IN (SELECT unnest(?::VARCHAR[]))", [stale]
    )
    counts["projections"] = len(stale)  # whole maps, not their points
    # The run log of this corpus: its file rows go now, its runs stop claiming 'done' (the
    # integrity check compares done runs with their file rows) and are deleted right after.
    delete(
        "DELETE FROM ingest_files WHERE run_id IN (SELECT run_id FROM ingest_runs"
        " WHERE corpus_id = ?)",
        [corpus_id],
    )
    con.execute("UPDATE ingest_runs SET status = 'deleted' WHERE corpus_id = ?", [corpus_id])
    counts["clips"] = delete("DELETE FROM clips WHERE corpus_id = ?", [corpus_id])
    return counts


def remove_media(paths: list[str], media_dir: Path) -> int:
    """Unlink the files among `paths` that lie inside `media_dir`; return how many went.

    Anything outside the media folder is a user's own recording, never EmoScope's to delete.
    A file already gone is not an error: the rows that named it are gone either way.
    """
    root = Path(media_dir).resolve()
    removed = 0
    for text in paths:
        path = Path(text).resolve()
        if not path.is_relative_to(root) or path == root:
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def journal_dir(media_dir: Path) -> Path:
    """Where deletions record their media files: beside the media folder, never inside it."""
    media = Path(media_dir)
    return media.with_name(media.name + ".deleting")


class _Journal:
    """The media files one deletion will unlink, on disk and flock-held until they are gone."""

    def __init__(self, media_dir: Path):
        self.path = journal_dir(media_dir) / f"{uuid.uuid4().hex}.json"
        self._fd: int | None = None

    def record(self, corpus: str, paths: list[str]) -> None:
        """Write the list durably (fsync) and hold it locked while this deletion runs."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.write(self._fd, json.dumps({"corpus": corpus, "paths": paths}).encode())
        os.fsync(self._fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock: the next deletion may finish this journal
            self._fd = None

    def done(self) -> None:
        """Every file is unlinked: remove the journal (and its folder once empty)."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            self.release()
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()


@dataclass(frozen=True)
class PendingRemoval:
    """A journal a deletion left unfinished: its file and the media paths it names."""

    journal: Path
    corpus: str
    paths: tuple[str, ...]


def pending_removals(media_dir: Path) -> list[PendingRemoval]:
    """Journals of deletions that did not finish, leaving out those a live deletion holds."""
    folder = journal_dir(media_dir)
    found = []
    for journal in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        with _unheld(journal) as content:
            if content is not None:
                found.append(PendingRemoval(journal, content.get("corpus", "?"),
                                            tuple(content.get("paths", ()))))  # fmt: skip
    return found


@contextlib.contextmanager
def _unheld(journal: Path) -> Iterator[dict | None]:
    """The journal's content while this process holds its lock; None if another holds it."""
    try:
        fd = os.open(journal, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None  # a deletion in progress: it will finish its own files
            return
        try:
            content = json.loads(Path(journal).read_text() or "{}")
        except ValueError:
            content = {}  # cut off while written: its transaction never committed
        yield content
    finally:
        os.close(fd)


def finish_pending_removals(store, media_dir: Path) -> int:
    """Unlink the files of unfinished deletions that no clip row names; files removed."""
    removed = 0
    for pending in pending_removals(media_dir):
        with _unheld(pending.journal) as content:
            if content is None:
                continue
            still_used = _named_by_clips(store, list(pending.paths))
            removed += remove_media([p for p in pending.paths if p not in still_used], media_dir)
            pending.journal.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        journal_dir(media_dir).rmdir()  # only when empty
    return removed


def _named_by_clips(store, paths: list[str]) -> set[str]:
    """The paths among `paths` that some clip row still names."""
    if not paths or not store.path.exists():
        return set()
    with store.reading() as con:
        rows = con.execute(
            "SELECT DISTINCT source_path FROM clips WHERE source_path IN"
            " (SELECT unnest(?::VARCHAR[]))", [paths]
        ).fetchall()  # fmt: skip
    return {p for (p,) in rows}


def orphaned_media(store, media_dir: Path) -> list[Path]:
    """Files in the media folder that no clip row names: left by a deletion cut off by a crash
    (finished by the next deletion), or put there by hand."""
    root = Path(media_dir).resolve()
    if not root.is_dir():
        return []
    files = [p for p in root.rglob("*") if p.is_file()]
    if not files:
        return []
    with store.reading() as con:
        named = {p for (p,) in con.execute(
            "SELECT DISTINCT source_path FROM clips WHERE starts_with(source_path, ?)",
            [str(root) + os.sep],
        ).fetchall()}  # fmt: skip
    return [p for p in files if str(p) not in named]
