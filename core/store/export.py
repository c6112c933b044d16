"""Exports of a clip selection as CSV or Parquet: clips with scores, frame curves, embeddings.

DuckDB writes every export itself with `COPY (query) TO file`: rows stream from the database
to the file, so memory stays bounded whatever the selection (a million clips, or the frames of a
thousand hours unnested in SQL), and nothing passes through pandas. Given a `progress` callback,
the COPY counts the rows it writes as it goes (core.store.row_meter) and reports them against
the rows the selection holds; the file is the same with or without it. The CLI and the dashboard's
download buttons call the same `export`, so they write exactly the same columns. Parquet keeps
types (timestamps, `tags` and the embedding as lists); CSV, which has no lists, joins `tags`
with `|` and spreads the embedding over emb_0 ... emb_{D-1}.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from core.errors import InputError
from core.model.labels import SCORE_COLUMNS
from core.records import ClipFilter
from core.store.curves import frame_rows_sql
from core.store.database import Store
from core.store.filters import where_sql
from core.store.models import embedding_dim_of
from core.store.row_meter import RowMeter, RowProgress, metered
from core.store.schema import CLIP_VIEW, embedding_table
from core.store.transcripts import full_text_sql

WHATS = ("clips", "frames", "embeddings")
FORMATS = ("csv", "parquet")
UTF8_BOM = b"\xef\xbb\xbf"  # Excel on Windows reads a CSV as UTF-8 only when it starts with this
_CLIP_COLUMNS = (
    "corpus", "clip_id", "source_name", "duration_s", "source_rate_hz", "channels", "codec",
    "agent", "recorded_at", "speaker", "tags", "track", "model_key", *SCORE_COLUMNS, "top_label",
    "confidence", "added_at",
)  # fmt: skip
_EMBEDDING_KEEP = ("corpus", "clip_id", "source_name", "track", "agent", "recorded_at", "top_label")


def _check(what: str, fmt: str) -> None:
    if what not in WHATS:
        raise InputError(f"cannot export {what!r}; choose one of {', '.join(WHATS)}.")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose csv or parquet.")


def export_query(store: Store, what: str, fmt: str, model_key: str,
                 where: ClipFilter = ClipFilter()) -> tuple[str, list]:  # fmt: skip
    """The SELECT an export writes, with its bound parameters."""
    _check(what, fmt)
    condition, params = where_sql(where)
    if what == "frames":
        return frame_rows_sql(model_key, where, ordered=False)
    if what == "clips":
        # One row per recording track, like the frames and embeddings exports (so the three
        # agree row for row): a recording in several corpora lists them all in `corpora`, and
        # its other columns come from the first corpus by name, as in the other two exports.
        columns = [
            ("array_to_string(v.tags, '|') AS tags" if c == "tags" and fmt == "csv" else f"v.{c}")
            for c in _CLIP_COLUMNS
        ]
        corpora = "coalesce(d.corpora, [v.corpus])"
        corpora = f"array_to_string({corpora}, '|')" if fmt == "csv" else corpora
        # Only recordings in several corpora are grouped (a cheap aggregate); the rest pass
        # straight through, so the export stays one streaming scan and one sort.
        sql = (
            f"WITH v AS (SELECT * FROM ({CLIP_VIEW}) v WHERE {condition}),"
            " d AS (SELECT clip_id, track, list(corpus ORDER BY corpus) AS corpora FROM v"
            " GROUP BY clip_id, track HAVING count(*) > 1)"
            f" SELECT {', '.join(columns)}, {corpora} AS corpora, t.transcript"
            f" FROM v LEFT JOIN d USING (clip_id, track) LEFT JOIN {full_text_sql()} t"
            " ON t.clip_id = v.clip_id AND t.track = v.track"
            " WHERE d.corpora IS NULL OR v.corpus = d.corpora[1]"
            " ORDER BY v.source_name, v.clip_id, v.track"
        )
        return sql, [model_key, *params]
    dim = embedding_dim_of(store, model_key) or 0
    if fmt == "csv":  # no lists in CSV: one column per dimension
        vector = ", ".join(f"e.embedding[{i + 1}] AS emb_{i}" for i in range(dim))
    else:
        vector = "e.embedding::FLOAT[] AS embedding"
    # Distinct on the small columns first; the 4 KB vectors join last, streamed, never sorted.
    keep = ", ".join(f"v.{c}" for c in _EMBEDDING_KEEP)
    sql = (
        f"WITH sel AS (SELECT DISTINCT ON (v.clip_id, v.track) {keep} FROM ({CLIP_VIEW}) v"
        f" WHERE {condition} ORDER BY v.clip_id, v.track, v.corpus)"
        f" SELECT {', '.join(f'sel.{c}' for c in _EMBEDDING_KEEP)}, {vector}"
        f" FROM {embedding_table(dim)} e JOIN sel ON e.clip_id = sel.clip_id"
        " AND e.track = sel.track WHERE e.model_key = ?"
    )
    return sql, [model_key, *params, model_key]


def count_rows(store: Store, model_key: str, where: ClipFilter = ClipFilter()) -> dict[str, int]:
    """Rows each export (clips, frames, embeddings) would hold, counted in one query."""
    with store.reading() as con:
        return _counts(con, model_key, where)


def _counts(con, model_key: str, where: ClipFilter) -> dict[str, int]:
    condition, params = where_sql(where)
    sql = (
        f"WITH sel AS (SELECT v.clip_id, v.track FROM ({CLIP_VIEW}) v WHERE {condition}),"
        " keys AS (SELECT DISTINCT clip_id, track FROM sel)"
        " SELECT (SELECT count(*) FROM keys), (SELECT coalesce(sum(f.n_frames), 0)"
        " FROM frame_curves f JOIN keys USING (clip_id, track) WHERE f.model_key = ?),"
        " (SELECT count(*) FROM keys)"
    )
    counts = con.execute(sql, [model_key, *params, model_key]).fetchall()[0]
    return {what: int(n) for what, n in zip(WHATS, counts, strict=True)}


def export(store: Store, what: str, fmt: str, out: Path, model_key: str,
           where: ClipFilter = ClipFilter(), progress: RowProgress | None = None,
           expected: int | None = None) -> int:  # fmt: skip
    """Write one export file with DuckDB's COPY; return the number of rows written.

    `progress(rows written, rows expected)` is called as DuckDB writes (from its threads, once per
    2048 rows) and once at the end with the final count; whatever it raises (Cancelled) stops the
    COPY and is raised here, and the unfinished file is removed. The rows expected are counted
    first unless the caller knows them (`expected`, e.g. from `count_rows` for its page).
    """
    sql, params = export_query(store, what, fmt, model_key, where)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meter = None
    with store.reading() as con:
        if fmt == "csv":
            sql = _formulas_defused(con, sql, params)
        if progress is not None:
            total = _counts(con, model_key, where)[what] if expected is None else expected
            meter = RowMeter(progress, total)
            progress(0, meter.total)
            sql = metered(con, sql, params, meter)
        _bounded(con, what)
        rows = _copy(con, sql, params, out, fmt, meter)
    if meter is not None:
        meter.finish()
    return rows


def _copy(con, sql: str, params: list, out: Path, fmt: str, meter: RowMeter | None) -> int:
    """COPY the rows of `sql` into `out`; the unfinished file goes if it fails or is stopped."""
    import duckdb

    # Row groups by bytes: 122,880 rows of 4 KB vectors would buffer 500 MB per writer thread.
    options = (
        "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE_BYTES '64MB'"
        if fmt == "parquet"
        else "FORMAT csv, HEADER"
    )
    try:
        result = con.execute(f"COPY ({sql}) TO ? ({options})", [*params, str(out)]).fetchall()
    except duckdb.Error:
        out.unlink(missing_ok=True)
        if meter is not None and meter.stopped is not None:
            raise meter.stopped from None  # what the callback raised, not DuckDB's wrapper
        raise
    return int(result[0][0])


def _bounded(con, what: str) -> None:
    """Settings that keep an export's memory bounded whatever the selection."""
    # Rows need not keep insertion order while they stream out, and DuckDB's buffer pool (80 %
    # of RAM by default) keeps to 1 GB.
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = '1GB'")
    if what in ("frames", "embeddings"):
        # DuckDB may build its hash join on the big side (the unnest's row estimate is far
        # too low: every frame was held, 18 GB for 80M frames). Keep the join's written
        # order: build on the selection, stream the frames or vectors through it.
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")


# A spreadsheet opening a CSV runs a cell that starts with one of these as a formula: a manifest
# value `=HYPERLINK("…")` would become a link, `=cmd|…` worse. OWASP's advice for CSV injection:
# such a text cell starts with a single quote, which the spreadsheet shows as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _formulas_defused(con, sql: str, params: list) -> str:
    """`sql` with every text cell that starts like a formula prefixed with a single quote."""
    described = con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params).description
    starts = ", ".join(f"chr({ord(c)})" for c in _FORMULA_STARTS)
    columns = [
        f'CASE WHEN left("{name}", 1) IN ({starts}) THEN chr(39) || "{name}" ELSE "{name}" END'
        f' AS "{name}"'
        if str(kind) == "VARCHAR"
        else f'"{name}"'
        for name, kind, *_ in described
    ]
    return f"SELECT {', '.join(columns)} FROM ({sql})"


def add_bom(path: Path) -> None:
    """Start a written CSV with the UTF-8 byte-order mark ("CSV for Excel"), streamed through a
    sibling file: without it Excel on Windows reads the file in the local code page, and a name
    such as 张伟 turns into mojibake."""
    path = Path(path)
    marked = path.with_name(path.name + ".bom")
    with path.open("rb") as source, marked.open("wb") as target:
        target.write(UTF8_BOM)
        shutil.copyfileobj(source, target, 1 << 20)
    marked.replace(path)


class Written(NamedTuple):
    """An export written into its own temporary folder."""

    path: Path
    rows: int


TEMP_PREFIX = "emoscope-export-"  # then the writing process's id: emoscope-export-<pid>-<random>
STALE_AFTER_S = 24 * 3600  # any temporary export older than this is removed


def export_to_temp(store: Store, what: str, fmt: str, model_key: str,
                   where: ClipFilter = ClipFilter(), bom: bool = False,
                   progress: RowProgress | None = None, expected: int | None = None) -> Written:  # fmt: skip
    """Export into a fresh temporary folder (for a download); the caller serves and removes it
    (`remove_temp`). With `bom` a CSV starts with the UTF-8 byte-order mark (CSV for Excel).
    Nothing is left behind when it fails or `progress` stops it."""
    remove_stale_temp()
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
    out = folder / f"emoscope-{what}.{fmt}"
    try:
        rows = export(store, what, fmt, out, model_key, where, progress, expected)
        if bom and fmt == "csv":
            add_bom(out)
    except BaseException:
        remove_temp(out)
        raise
    return Written(out, rows)


def remove_temp(path: Path) -> None:
    """Remove a file `export_to_temp` wrote, and its folder (only such a folder)."""
    folder = Path(path).parent
    if folder.name.startswith(TEMP_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_temp(now: float | None = None) -> int:
    """Remove the temporary exports a stopped server left; how many went.

    Those of a process no longer running (SIGTERM ends Streamlit's server without Python's exit
    handlers, so its sessions never removed their files), and any older than a day.
    """
    now = time.time() if now is None else now
    stale = [
        folder
        for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*")
        if folder.is_dir()
        and (now - folder.stat().st_mtime > STALE_AFTER_S or not _writer_runs(folder.name))
    ]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def _writer_runs(name: str) -> bool:
    """Whether the process that named this folder still runs (unknown counts as running)."""
    pid = name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
    if not pid.isdigit():
        return True  # named before the process id was part of the name: age decides
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True
