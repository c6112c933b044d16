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
"""

from __future__ import annotations

from collections.abc import Callable
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

    def summary(self) -> str:
        return (
            f"deleted corpus {self.corpus!r}: {self.clips} clips, {self.predictions} predictions, "
            f"{self.frame_curves} frame curves, {self.embeddings} embeddings, {self.segments} "
            f"segments, {self.projections} projections, {self.runs} ingest runs, "
            f"{self.media_files} media files"
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
    say("removing rows")
    with store.writing() as con:
        row = con.execute("SELECT corpus_id FROM corpora WHERE name = ?", [name]).fetchone()
        if row is None:
            raise InputError(f"no corpus named {name!r}.")
        corpus_id = row[0]
        con.execute(_ORPHANS, [corpus_id, corpus_id])
        paths = [p for (p,) in con.execute(_PATHS, [corpus_id, corpus_id]).fetchall()]
        counts = _delete_rows(con, corpus_id)
        audit.record_in(con, principal.email, "delete_corpus", f"{name}: {counts['clips']} clips")
        con.execute("DROP TABLE doomed")
        rollup.rebuild(con)  # in the same transaction: the Overview never sums deleted clips
    say("removing the run log")
    # The run log and the empty corpus row: no clip or result changes (core.store.rollup).
    with store.writing(changes_results=False) as con:  # a separate transaction per level
        runs = con.execute(
            "DELETE FROM ingest_runs WHERE corpus_id = ? RETURNING run_id", [corpus_id]
        ).fetchall()
    with store.writing(changes_results=False) as con:
        con.execute("DELETE FROM corpora WHERE corpus_id = ?", [corpus_id])
    say("removing media files")
    removed = remove_media(paths, media_dir)
    return DeletionReport(corpus=name, runs=len(runs), media_files=removed, **counts)


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
        "embeddings": sum(
            delete(f"DELETE FROM {embedding_table(dim)} WHERE {in_doomed}") for dim in dims
        ),
    }
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
