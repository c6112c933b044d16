"""The DuckDB store: every table, every query, the schema and its migrations.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import InputError, StoreBusyError, StoreError
from core.labels import EMOTIONS, SCORE_COLUMNS

DEFAULT_DB = Path(__file__).resolve().parents[1] / "data" / "emoscope.duckdb"
SCHEMA_VERSION = 3
_SCORES_DDL = ", ".join(f"{c} FLOAT NOT NULL" for c in SCORE_COLUMNS)

# Every schema change is appended here; a database is brought up to date when opened for writing.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE SEQUENCE corpus_seq START 1",
        """CREATE TABLE corpora (
            corpus_id INTEGER PRIMARY KEY DEFAULT nextval('corpus_seq'),
            name VARCHAR NOT NULL UNIQUE,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        """CREATE TABLE clips (
            corpus_id INTEGER NOT NULL REFERENCES corpora (corpus_id),
            clip_id VARCHAR NOT NULL,
            source_name VARCHAR NOT NULL,
            source_path VARCHAR,
            duration_s DOUBLE NOT NULL,
            source_rate_hz INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            codec VARCHAR NOT NULL,
            size_bytes BIGINT NOT NULL,
            agent VARCHAR,
            recorded_at TIMESTAMP,
            speaker VARCHAR,
            tags VARCHAR[],
            added_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (corpus_id, clip_id))""",
        """CREATE TABLE models (
            model_key VARCHAR PRIMARY KEY,
            model_id VARCHAR NOT NULL,
            revision VARCHAR NOT NULL,
            embedding_dim INTEGER NOT NULL,
            untrained BOOLEAN NOT NULL,
            first_used TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        f"""CREATE TABLE predictions (
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            model_key VARCHAR NOT NULL REFERENCES models (model_key),
            {_SCORES_DDL},
            top_label VARCHAR NOT NULL,
            confidence FLOAT NOT NULL,
            scored_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (clip_id, track, model_key))""",
        # Frame logits, not probabilities: a smoothed curve is softmax(moving mean of logits).
        # One row per clip, T*9 values row-major: 20 ms frames, 9 classes.
        """CREATE TABLE frame_curves (
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            model_key VARCHAR NOT NULL REFERENCES models (model_key),
            hop_ms INTEGER NOT NULL,
            n_frames INTEGER NOT NULL,
            logits FLOAT[] NOT NULL,
            PRIMARY KEY (clip_id, track, model_key))""",
        "CREATE SEQUENCE run_seq START 1",
        """CREATE TABLE ingest_runs (
            run_id INTEGER PRIMARY KEY DEFAULT nextval('run_seq'),
            corpus_id INTEGER NOT NULL REFERENCES corpora (corpus_id),
            model_key VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at TIMESTAMP,
            n_files INTEGER NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'running')""",
        """CREATE TABLE ingest_files (
            run_id INTEGER NOT NULL REFERENCES ingest_runs (run_id),
            source_name VARCHAR NOT NULL,
            clip_id VARCHAR,
            status VARCHAR NOT NULL CHECK (status IN ('scored', 'cached', 'failed')),
            seconds_audio DOUBLE NOT NULL DEFAULT 0,
            message VARCHAR,
            logged_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
    ),
    2: (
        # Cluster-page projections, computed once per (clip selection, model, parameters).
        """CREATE TABLE projections (
            projection_key VARCHAR NOT NULL,
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            x FLOAT NOT NULL,
            y FLOAT NOT NULL,
            cluster INTEGER NOT NULL,
            PRIMARY KEY (projection_key, clip_id, track))""",
    ),
    3: (
        # Long recordings are scored in windows; each window's share is a segment.
        """CREATE TABLE segments (
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            model_key VARCHAR NOT NULL REFERENCES models (model_key),
            segment INTEGER NOT NULL,
            start_s DOUBLE NOT NULL,
            end_s DOUBLE NOT NULL,
            scores FLOAT[9] NOT NULL,
            top_label VARCHAR NOT NULL,
            confidence FLOAT NOT NULL,
            PRIMARY KEY (clip_id, track, model_key, segment))""",
    ),
}

# Columns a user may filter, sort or group by (anything else is refused, never interpolated).
CLIP_COLUMNS = (
    "corpus", "clip_id", "source_name", "duration_s", "source_rate_hz", "channels", "codec",
    "agent", "recorded_at", "speaker", "tags", "track", "top_label", "confidence",
    *SCORE_COLUMNS,
)  # fmt: skip


def resolve_db_path(value: str | os.PathLike | None = None) -> Path:
    """--db, else $EMOSCOPE_DB, else data/emoscope.duckdb: one rule for CLI and dashboard."""
    chosen = value or os.environ.get("EMOSCOPE_DB") or DEFAULT_DB
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class ClipRecord:
    """A clip as it enters a corpus: its identity, the audio facts and the metadata."""

    clip_id: str
    source_name: str
    source_path: str | None
    duration_s: float
    source_rate_hz: int
    channels: int
    codec: str
    size_bytes: int
    agent: str | None = None
    recorded_at: datetime | None = None
    speaker: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoredTrack:
    """One scored track of a clip: scores, embedding and optionally the frame logits."""

    clip_id: str
    track: str
    scores: np.ndarray
    embedding: np.ndarray
    frame_logits: np.ndarray | None = None


@dataclass(frozen=True)
class SegmentRecord:
    """One window's share of a long recording, with its own scores."""

    clip_id: str
    track: str
    index: int
    start_s: float
    end_s: float
    scores: np.ndarray


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input file during an ingest run."""

    source_name: str
    status: str  # scored | cached | failed
    clip_id: str | None = None
    seconds_audio: float = 0.0
    message: str | None = None


@dataclass(frozen=True)
class ClipFilter:
    """A selection of clips, as chosen on the dashboard or the CLI. Empty fields mean 'any'."""

    corpora: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    top_labels: tuple[str, ...] = ()
    tracks: tuple[str, ...] = ()
    date_from: datetime | None = None
    date_to: datetime | None = None
    min_confidence: float = 0.0
    max_confidence: float = 1.0
    min_duration_s: float = 0.0
    max_duration_s: float | None = None
    clip_ids: tuple[str, ...] = field(default=())

    def where(self) -> tuple[str, list]:
        """SQL condition over the `clip_view` alias v, with its bound parameters."""
        parts, params = ["v.confidence BETWEEN ? AND ?", "v.duration_s >= ?"], [
            self.min_confidence, self.max_confidence, self.min_duration_s,
        ]  # fmt: skip
        for column, values in (
            ("corpus", self.corpora), ("agent", self.agents), ("top_label", self.top_labels),
            ("track", self.tracks), ("clip_id", self.clip_ids),
        ):  # fmt: skip
            if values:
                parts.append(f"v.{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.max_duration_s is not None:
            parts.append("v.duration_s <= ?")
            params.append(self.max_duration_s)
        if self.date_from is not None:
            parts.append("v.recorded_at >= ?")
            params.append(self.date_from)
        if self.date_to is not None:
            parts.append("v.recorded_at < ?")
            params.append(self.date_to)
        return " AND ".join(parts), params


_CLIP_VIEW = f"""
    SELECT co.name AS corpus, c.clip_id, c.source_name, c.source_path, c.duration_s,
           c.source_rate_hz, c.channels, c.codec, c.agent, c.recorded_at, c.speaker, c.tags,
           p.track, p.model_key, {", ".join(f"p.{s}" for s in SCORE_COLUMNS)},
           p.top_label, p.confidence, c.added_at
    FROM clips c
    JOIN corpora co USING (corpus_id)
    JOIN predictions p ON p.clip_id = c.clip_id AND p.model_key = ?
"""


class Store:
    """The EmoScope database file. Knows nothing of the web or the model."""

    def __init__(self, path: str | os.PathLike | None = None, busy_timeout_s: float = 30.0):
        self.path = resolve_db_path(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()
        self._schema_current = False

    # -- connections -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator:
        import duckdb

        with self._lock:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            deadline = time.monotonic() + self.busy_timeout_s
            delay = 0.05
            while True:
                try:
                    con = duckdb.connect(str(self.path), read_only=not write)
                    break
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower():
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
                if write:
                    self._migrate(con)
                else:  # reading() migrated older files; a newer EmoScope may have written since
                    self._refuse_newer(self._version(con))
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def writing(self) -> Iterator:
        """A connection inside one transaction: all of it commits, or none of it does."""
        with self._connect(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator:
        """A read-only connection (shared with other readers, never with a writer)."""
        if not self._schema_current:
            # Once per Store: create the file or migrate an older one, so readers never meet
            # an old schema (e.g. the dashboard opening a database from an earlier version).
            self.initialise()
        with self._connect(write=False) as con:
            yield con

    def initialise(self) -> None:
        """Create the file and bring its schema up to date."""
        with self._connect(write=True):
            pass
        self._schema_current = True

    def _version(self, con) -> int:
        exists = _one(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_info'"
            )
        )[0]
        if not exists:
            return 0
        return _one(con.execute("SELECT max(version) FROM schema_info"))[0] or 0

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
            for statement in MIGRATIONS[step]:
                con.execute(statement)
            con.execute("INSERT INTO schema_info VALUES (?)", [step])
        con.execute("COMMIT")

    # -- writing an ingest -------------------------------------------------------------------

    def start_run(self, corpus: str, model_key: str, n_files: int) -> int:
        """Create the corpus if needed and open an ingest run; return its id."""
        with self.writing() as con:
            corpus_id = self._corpus_id(con, corpus, create=True)
            return _one(
                con.execute(
                    "INSERT INTO ingest_runs (corpus_id, model_key, n_files) VALUES (?, ?, ?) "
                    "RETURNING run_id",
                    [corpus_id, model_key, n_files],
                )
            )[0]

    def finish_run(self, run_id: int, status: str = "done") -> None:
        with self.writing() as con:
            con.execute(
                "UPDATE ingest_runs SET finished_at = current_timestamp, status = ? "
                "WHERE run_id = ?",
                [status, run_id],
            )

    def register_model(self, model_key: str, model_id: str, revision: str, dim: int,
                       untrained: bool) -> None:  # fmt: skip
        with self.writing() as con:
            con.execute(
                "INSERT INTO models (model_key, model_id, revision, embedding_dim, untrained) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [model_key, model_id, revision, dim, untrained],
            )
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {_embedding_table(dim)} ("
                f"clip_id VARCHAR NOT NULL, track VARCHAR NOT NULL, model_key VARCHAR NOT NULL, "
                f"embedding FLOAT[{int(dim)}] NOT NULL, PRIMARY KEY (clip_id, track, model_key))"
            )

    def cached_tracks(
        self, model_key: str, clip_ids: Sequence[str], frames: bool
    ) -> set[tuple[str, str]]:
        """(clip_id, track) pairs already scored by this model (with frames, if asked)."""
        if not clip_ids:
            return set()
        table = "frame_curves" if frames else "predictions"
        with self.reading() as con:
            rows = con.execute(
                f"SELECT clip_id, track FROM {table} WHERE model_key = ? AND clip_id IN "
                f"(SELECT unnest(?::VARCHAR[]))",
                [model_key, list(clip_ids)],
            ).fetchall()
        return {(c, t) for c, t in rows}

    def known_clips(self, clip_ids: Sequence[str]) -> dict[str, ClipRecord]:
        """Audio facts of clips already stored (in any corpus), keyed by clip id."""
        if not clip_ids:
            return {}
        with self.reading() as con:
            rows = con.execute(
                "SELECT DISTINCT ON (clip_id) clip_id, source_name, source_path, duration_s,"
                " source_rate_hz, channels, codec, size_bytes FROM clips"
                " WHERE clip_id IN (SELECT unnest(?::VARCHAR[]))",
                [list(clip_ids)],
            ).fetchall()
        return {r[0]: ClipRecord(*r) for r in rows}

    def write_batch(self, run_id: int, corpus: str, model_key: str, dim: int,
                    clips: Sequence[ClipRecord], tracks: Sequence[ScoredTrack],
                    outcomes: Sequence[FileOutcome],
                    segments: Sequence[SegmentRecord] = ()) -> None:  # fmt: skip
        """Store one batch of an ingest in one transaction: a crash keeps all of it or none."""
        with self.writing() as con:
            corpus_id = self._corpus_id(con, corpus, create=True)
            for clip in clips:
                con.execute(
                    "INSERT INTO clips (corpus_id, clip_id, source_name, source_path, duration_s,"
                    " source_rate_hz, channels, codec, size_bytes, agent, recorded_at, speaker,"
                    " tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (corpus_id, clip_id) DO UPDATE SET source_name ="
                    " excluded.source_name, source_path = excluded.source_path, agent ="
                    " excluded.agent, recorded_at = excluded.recorded_at, speaker ="
                    " excluded.speaker, tags = excluded.tags",
                    [corpus_id, clip.clip_id, clip.source_name, clip.source_path, clip.duration_s,
                     clip.source_rate_hz, clip.channels, clip.codec, clip.size_bytes, clip.agent,
                     clip.recorded_at, clip.speaker, list(clip.tags)],
                )  # fmt: skip
            for track in tracks:
                scores = [float(s) for s in track.scores]
                top = int(np.argmax(track.scores))
                con.execute(
                    f"INSERT INTO predictions (clip_id, track, model_key, {', '.join(SCORE_COLUMNS)},"
                    f" top_label, confidence) VALUES (?, ?, ?, {', '.join('?' * len(SCORE_COLUMNS))},"
                    " ?, ?) ON CONFLICT DO NOTHING",
                    [track.clip_id, track.track, model_key, *scores, EMOTIONS[top], scores[top]],
                )
                con.execute(
                    f"INSERT INTO {_embedding_table(dim)} VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        track.clip_id,
                        track.track,
                        model_key,
                        track.embedding.astype(np.float32).tolist(),
                    ],
                )
                if track.frame_logits is not None:
                    con.execute(
                        "INSERT INTO frame_curves VALUES (?, ?, ?, 20, ?, ?) ON CONFLICT DO NOTHING",
                        [track.clip_id, track.track, model_key, len(track.frame_logits),
                         track.frame_logits.astype(np.float32).ravel().tolist()],
                    )  # fmt: skip
            for seg in segments:
                top = int(np.argmax(seg.scores))
                con.execute(
                    "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [seg.clip_id, seg.track, model_key, seg.index, seg.start_s, seg.end_s,
                     [float(x) for x in seg.scores], EMOTIONS[top], float(seg.scores[top])],
                )  # fmt: skip
            for outcome in outcomes:
                con.execute(
                    "INSERT INTO ingest_files (run_id, source_name, clip_id, status, seconds_audio,"
                    " message) VALUES (?, ?, ?, ?, ?, ?)",
                    [run_id, outcome.source_name, outcome.clip_id, outcome.status,
                     outcome.seconds_audio, outcome.message],
                )  # fmt: skip

    def save_projection(self, key: str, frame: pd.DataFrame) -> None:
        """Store a 2-D projection with cluster ids (columns clip_id, track, x, y, cluster)."""
        with self.writing() as con:
            con.execute("DELETE FROM projections WHERE projection_key = ?", [key])
            con.executemany(
                "INSERT INTO projections VALUES (?, ?, ?, ?, ?, ?)",
                [[key, r.clip_id, r.track, float(r.x), float(r.y), int(r.cluster)]
                 for r in frame.itertuples()],
            )  # fmt: skip

    @staticmethod
    def _corpus_id(con, name: str, create: bool) -> int | None:
        row = _one(con.execute("SELECT corpus_id FROM corpora WHERE name = ?", [name]))
        if row or not create:
            return row[0] if row else None
        return _one(
            con.execute("INSERT INTO corpora (name) VALUES (?) RETURNING corpus_id", [name])
        )[0]

    # -- reading -----------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """Run one read query on a short-lived read-only connection."""
        with self.reading() as con:
            return con.execute(sql, list(params)).df()

    def models(self) -> pd.DataFrame:
        """Models with results here, most recently used first, with their clip counts."""
        return self._query(
            "SELECT m.model_key, m.model_id, m.revision, m.embedding_dim, m.untrained,"
            " m.first_used, count(p.clip_id) AS n_tracks, max(p.scored_at) AS last_used"
            " FROM models m LEFT JOIN predictions p USING (model_key)"
            " GROUP BY ALL ORDER BY last_used DESC NULLS LAST, m.first_used DESC"
        )

    def corpora(self) -> pd.DataFrame:
        """Corpora with clip counts and total audio."""
        return self._query(
            "SELECT co.name AS corpus, count(c.clip_id) AS clips,"
            " coalesce(sum(c.duration_s), 0) AS seconds_audio, co.created_at"
            " FROM corpora co LEFT JOIN clips c USING (corpus_id)"
            " GROUP BY ALL ORDER BY co.name"
        )

    def clips(self, model_key: str, where: ClipFilter = ClipFilter(), order_by: str = "source_name",
              limit: int | None = None) -> pd.DataFrame:  # fmt: skip
        """Clips with the 9 scores of one model, filtered; `order_by` must be a known column."""
        _check_column(order_by)
        condition, params = where.where()
        sql = (f"SELECT * FROM ({_CLIP_VIEW}) v WHERE {condition} "
               f"ORDER BY v.{order_by}, v.clip_id, v.track")  # fmt: skip
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self.reading() as con:
            return con.execute(sql, [model_key, *params]).df()

    def filter_options(self) -> dict[str, list]:
        """Distinct values for the dashboard's filter widgets, plus date and duration bounds."""
        with self.reading() as con:
            agents = [
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT agent FROM clips WHERE agent IS NOT NULL ORDER BY 1"
                ).fetchall()
            ]
            bounds = _one(
                con.execute("SELECT min(recorded_at), max(recorded_at), max(duration_s) FROM clips")
            )
            tracks = [
                r[0]
                for r in con.execute("SELECT DISTINCT track FROM predictions ORDER BY 1").fetchall()
            ]
        return {"agents": agents, "date_min": bounds[0], "date_max": bounds[1],
                "max_duration_s": bounds[2] or 0.0, "tracks": tracks}  # fmt: skip

    def frame_logits(self, clip_id: str, model_key: str, track: str = "mix") -> np.ndarray | None:
        """(T, 9) frame logits of one track, or None when its curve was not computed."""
        with self.reading() as con:
            table = con.sql(
                "SELECT n_frames, logits FROM frame_curves"
                " WHERE clip_id = ? AND model_key = ? AND track = ?",
                params=[clip_id, model_key, track],
            ).to_arrow_table()
        if table.num_rows == 0:
            return None
        values = table.column("logits").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return values.astype(np.float32).reshape(
            int(table.column("n_frames")[0].as_py()), len(EMOTIONS)
        )

    def segments(self, clip_id: str, model_key: str, track: str = "mix") -> pd.DataFrame:
        """Windows of a long recording with their scores (empty for clips scored whole)."""
        return self._query(
            "SELECT segment, start_s, end_s, top_label, confidence, scores FROM segments"
            " WHERE clip_id = ? AND model_key = ? AND track = ? ORDER BY segment",
            [clip_id, model_key, track],
        )

    def tracks_with_curves(self, model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
        """Clips (and tracks) of the selection whose frame curves are stored."""
        condition, params = where.where()
        return self._query(
            f"SELECT v.corpus, v.clip_id, v.source_name, v.source_path, v.track, v.duration_s,"
            f" v.top_label"
            f" FROM ({_CLIP_VIEW}) v JOIN frame_curves f ON f.clip_id = v.clip_id"
            f" AND f.track = v.track AND f.model_key = v.model_key WHERE {condition}"
            f" ORDER BY v.source_name, v.track",
            [model_key, *params],
        )

    def embeddings(
        self, model_key: str, where: ClipFilter = ClipFilter()
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The selection's clips (one row per clip and track) and their (N, D) embeddings."""
        dim = self._dim(model_key)
        if dim is None:
            return pd.DataFrame(), np.zeros((0, 0), np.float32)
        condition, params = where.where()
        with self.reading() as con:
            table = con.sql(
                f"SELECT DISTINCT ON (v.clip_id, v.track) v.*, e.embedding FROM ({_CLIP_VIEW}) v"
                f" JOIN {_embedding_table(dim)} e ON e.clip_id = v.clip_id AND e.track = v.track"
                f" AND e.model_key = v.model_key WHERE {condition} ORDER BY v.clip_id, v.track",
                params=[model_key, *params],
            ).to_arrow_table()
        matrix = (table.column("embedding").combine_chunks().flatten()
                  .to_numpy(zero_copy_only=False).astype(np.float32).reshape(table.num_rows, dim))  # fmt: skip
        return table.drop_columns(["embedding"]).to_pandas(), matrix

    def projection(self, key: str) -> pd.DataFrame:
        """A stored projection (clip_id, track, x, y, cluster), empty when not computed yet."""
        return self._query(
            "SELECT clip_id, track, x, y, cluster FROM projections WHERE projection_key = ?"
            " ORDER BY clip_id, track",
            [key],
        )

    def runs(self, limit: int = 20) -> pd.DataFrame:
        """Recent ingest runs with their outcome counts."""
        return self._query(
            "SELECT r.run_id, co.name AS corpus, r.model_key, r.started_at, r.finished_at,"
            " r.status, r.n_files,"
            " count(*) FILTER (WHERE f.status = 'scored') AS scored,"
            " count(*) FILTER (WHERE f.status = 'cached') AS cached,"
            " count(*) FILTER (WHERE f.status = 'failed') AS failed"
            " FROM ingest_runs r JOIN corpora co USING (corpus_id)"
            " LEFT JOIN ingest_files f USING (run_id)"
            " GROUP BY ALL ORDER BY r.run_id DESC LIMIT ?",
            [limit],
        )

    def run_files(self, run_id: int) -> pd.DataFrame:
        """Per-file outcomes of one ingest run."""
        return self._query(
            "SELECT source_name, status, clip_id, seconds_audio, message FROM ingest_files"
            " WHERE run_id = ? ORDER BY logged_at, source_name",
            [run_id],
        )

    def frame_rows(self, model_key: str, where: ClipFilter = ClipFilter()) -> pd.DataFrame:
        """Long-format frame curves: one row per clip, track and 20 ms frame, 9 probabilities."""
        condition, params = where.where()
        softmax = _softmax_sql("f.logits", "f.i")
        return self._query(
            f"""WITH sel AS (SELECT * FROM ({_CLIP_VIEW}) v WHERE {condition}),
            f AS (SELECT clip_id, track, hop_ms, logits, unnest(range(n_frames)) AS i
                  FROM frame_curves WHERE model_key = ?)
            SELECT sel.corpus, sel.clip_id, sel.source_name, f.track, f.i AS frame,
                   f.i * f.hop_ms / 1000.0 AS time_s, {softmax}
            FROM f JOIN sel ON sel.clip_id = f.clip_id AND sel.track = f.track
            ORDER BY sel.source_name, f.track, f.i""",
            [model_key, *params, model_key],
        )

    def integrity_report(self) -> dict[str, int]:
        """Counts of rows that would mean a broken database; all zero when consistent."""
        durations = (
            "SELECT clip_id, any_value(duration_s) AS duration_s FROM clips GROUP BY clip_id"
        )
        checks = {
            "predictions_without_clip": "SELECT count(*) FROM predictions p WHERE NOT EXISTS"
            " (SELECT 1 FROM clips c WHERE c.clip_id = p.clip_id)",
            "clips_without_prediction": "SELECT count(*) FROM clips c WHERE NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.clip_id = c.clip_id)",
            "curves_without_prediction": "SELECT count(*) FROM frame_curves f WHERE NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.clip_id = f.clip_id AND p.track = f.track"
            " AND p.model_key = f.model_key)",
            "segments_without_prediction": "SELECT count(*) FROM segments s WHERE NOT EXISTS"
            " (SELECT 1 FROM predictions p WHERE p.clip_id = s.clip_id AND p.track = s.track"
            " AND p.model_key = s.model_key)",
            "bad_curve_lengths": "SELECT count(*) FROM frame_curves"
            " WHERE len(logits) <> n_frames * 9",
            # A half-written clip: a curve or a set of segments that stops short of the audio.
            "curves_not_covering_clip": f"SELECT count(*) FROM frame_curves f JOIN ({durations})"
            " d USING (clip_id) WHERE abs(f.n_frames - d.duration_s * 1000 / f.hop_ms) > 2",
            "segments_not_tiling_clip": "SELECT count(*) FROM (SELECT clip_id, min(start_s) AS lo,"
            " max(end_s) AS hi, sum(end_s - start_s) AS covered, count(*) AS n,"
            " max(segment) AS last FROM segments GROUP BY clip_id, track, model_key) s"
            f" JOIN ({durations}) d USING (clip_id) WHERE s.lo <> 0 OR abs(s.hi - s.covered) > 1e-3"
            " OR s.last <> s.n - 1 OR abs(s.hi - d.duration_s) > 0.05",
            # The run log and the stored clips tell the same story.
            "finished_runs_missing_file_rows": "SELECT count(*) FROM ingest_runs r"
            " WHERE r.status = 'done' AND r.n_files <> (SELECT count(*) FROM ingest_files f"
            " WHERE f.run_id = r.run_id)",
            "logged_clips_missing": "SELECT count(*) FROM ingest_files f JOIN ingest_runs r"
            " USING (run_id) WHERE f.status <> 'failed' AND NOT EXISTS (SELECT 1 FROM clips c"
            " WHERE c.corpus_id = r.corpus_id AND c.clip_id = f.clip_id)",
            "clips_never_logged": "SELECT count(*) FROM clips c WHERE NOT EXISTS (SELECT 1"
            " FROM ingest_files f JOIN ingest_runs r USING (run_id) WHERE f.status <> 'failed'"
            " AND r.corpus_id = c.corpus_id AND f.clip_id = c.clip_id)",
        }
        with self.reading() as con:
            report = {name: _one(con.execute(sql))[0] for name, sql in checks.items()}
            for (dim,) in con.execute("SELECT DISTINCT embedding_dim FROM models").fetchall():
                report[f"predictions_without_embedding_d{dim}"] = _one(
                    con.execute(
                        f"SELECT count(*) FROM predictions p JOIN models m USING (model_key)"
                        f" WHERE m.embedding_dim = ? AND NOT EXISTS (SELECT 1 FROM"
                        f" {_embedding_table(dim)} e WHERE e.clip_id = p.clip_id"
                        f" AND e.track = p.track AND e.model_key = p.model_key)",
                        [dim],
                    )
                )[0]
        return report

    def _dim(self, model_key: str) -> int | None:
        with self.reading() as con:
            row = _one(
                con.execute("SELECT embedding_dim FROM models WHERE model_key = ?", [model_key])
            )
        return int(row[0]) if row else None


def _one(result) -> tuple | None:
    """The first row of a result, draining it: DuckDB refuses new work on an unfinished result."""
    rows = result.fetchall()
    return rows[0] if rows else None


def _embedding_table(dim: int) -> str:
    # FLOAT[D] is a fixed-size array type, so each embedding size has its own table.
    return f"embeddings_d{int(dim)}"


def _check_column(name: str) -> None:
    if name not in CLIP_COLUMNS:
        raise InputError(f"unknown column {name!r}; choose one of {', '.join(CLIP_COLUMNS)}.")


def _softmax_sql(logits: str, frame: str) -> str:
    """Per-frame softmax of flattened logits, one column per emotion (index math bound to ints)."""
    k = len(EMOTIONS)
    cells = [f"{logits}[{frame} * {k} + {j + 1}]" for j in range(k)]
    top = f"greatest({', '.join(cells)})"
    denominator = " + ".join(f"exp({c} - {top})" for c in cells)
    return ", ".join(
        f"exp({cell} - {top}) / ({denominator}) AS {column}"
        for cell, column in zip(cells, SCORE_COLUMNS, strict=True)
    )
