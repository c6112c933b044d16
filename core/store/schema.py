"""The database schema: every table, as an ordered list of migration steps, and the clip view.

A database is brought up to date when first opened for writing (core.store.database); a new step is
appended to MIGRATIONS and SCHEMA_VERSION raised, never an old step edited.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.model.labels import SCORE_COLUMNS
from core.store import rollup, track_rollup

SCHEMA_VERSION = 13
_SCORES_DDL = ", ".join(f"{c} FLOAT NOT NULL" for c in SCORE_COLUMNS)

# The transcripts columns step 10 made NOT NULL, and step 12's text_lower.
_LINE_REQUIRED = ("clip_id", "track", "asr_key", "segment", "start_s", "end_s", "text", "events",
                  "words", "text_lower")  # fmt: skip

# The tables a page reads one clip from (Clips' detail, Frame curves, a similar search's lookups).
CLIP_KEYED_TABLES = ("clips", "predictions", "segments", "frame_curves", "transcripts",
                     "transcribed")  # fmt: skip


def clip_id_index_ddl(table: str) -> str:
    """A single-column index on `clip_id`. DuckDB 2.0 answers `clip_id = ?` from an ART index
    only when the index has that one column and the scan has no other filter (the composite
    primary keys are never used for it): at 1.3M tracks a clip's segments took 220 ms by a scan
    and 6 ms by this index. Queries that read one clip therefore select by clip_id alone first
    (core.store.keyed)."""
    return f"CREATE INDEX IF NOT EXISTS {table}_clip_id ON {table} (clip_id)"


def _index_embedding_tables(con) -> None:
    """Step 13 for the embedding tables, one per embedding size, named at run time."""
    names = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'embeddings_d')"
    ).fetchall()
    for (name,) in names:
        if re.fullmatch(r"embeddings_d\d+", name):
            con.execute(clip_id_index_ddl(name))


# Every schema change is appended here; a database is brought up to date when opened for writing.
# A step is SQL, or a function of the connection where the SQL depends on what the file holds.
MIGRATIONS: dict[int, tuple[str | Callable, ...]] = {
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
    4: (
        # Which process runs an ingest, so a run killed outright (SIGKILL, power loss) can be
        # told from a live one and marked 'interrupted' by the next run on the same host.
        "ALTER TABLE ingest_runs ADD COLUMN pid INTEGER",
        "ALTER TABLE ingest_runs ADD COLUMN host VARCHAR",
    ),
    5: (
        # The user's own emotion label from the manifest (any vocabulary), for the model check.
        "ALTER TABLE clips ADD COLUMN label VARCHAR",
    ),
    6: (
        # Who did what: sign-in users ('cli:<os user>' for the command line), their roles, and
        # an append-only audit of uploads, runs, exports, deletions and role changes.
        "ALTER TABLE ingest_runs ADD COLUMN user_name VARCHAR",
        """CREATE TABLE user_roles (
            email VARCHAR PRIMARY KEY,
            role VARCHAR NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
            granted_by VARCHAR NOT NULL,
            granted_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        "CREATE SEQUENCE audit_seq START 1",
        """CREATE TABLE audit_log (
            event_id BIGINT PRIMARY KEY DEFAULT nextval('audit_seq'),
            logged_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            user_name VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            detail VARCHAR)""",
    ),
    7: (
        # Tracks an ingest is scoring right now, so that a concurrent ingest of the same files
        # waits for them instead of running the model on them too (core.store.claims).
        """CREATE TABLE score_claims (
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            model_key VARCHAR NOT NULL,
            run_id INTEGER NOT NULL,
            claimed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (clip_id, track, model_key))""",
    ),
    # What the Overview sums, per model, corpus, agent and day, and the data version it was
    # built from (core.store.rollup); Store._migrate builds it for the data already there.
    8: rollup.DDL,
    9: (
        # Personal API tokens (core.store.tokens): only a SHA-256 of each token is kept; the
        # token itself is shown once to its owner. Revoked tokens stay, for the audit's sake.
        "CREATE SEQUENCE token_seq START 1",
        """CREATE TABLE api_tokens (
            token_id INTEGER PRIMARY KEY DEFAULT nextval('token_seq'),
            owner VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            token_hash VARCHAR NOT NULL UNIQUE,
            prefix VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            expires_at TIMESTAMP NOT NULL,
            revoked_at TIMESTAMP,
            revoked_by VARCHAR)""",
    ),
    10: (
        # What was said (core.store.transcripts): SenseVoice's segments of each track, with
        # their words and emotion2vec's scores over each segment's span; `transcribed` marks a
        # track done per ASR settings (also when it had no speech), the transcription cache.
        """CREATE TABLE transcripts (
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            asr_key VARCHAR NOT NULL,
            segment INTEGER NOT NULL,
            start_s DOUBLE NOT NULL,
            end_s DOUBLE NOT NULL,
            text VARCHAR NOT NULL,
            language VARCHAR,
            emotion VARCHAR,
            events VARCHAR[] NOT NULL,
            words STRUCT(word VARCHAR, start_s DOUBLE, end_s DOUBLE)[] NOT NULL,
            model_key VARCHAR,
            scores FLOAT[9],
            top_label VARCHAR,
            confidence FLOAT,
            PRIMARY KEY (clip_id, track, asr_key, segment))""",
        """CREATE TABLE transcribed (
            clip_id VARCHAR NOT NULL,
            track VARCHAR NOT NULL,
            asr_key VARCHAR NOT NULL,
            n_segments INTEGER NOT NULL,
            transcribed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            PRIMARY KEY (clip_id, track, asr_key))""",
    ),
    # The same days per track name, so a voice of split calls sums from days (#30).
    11: track_rollup.DDL,
    # Each line's lower-case copy, which the said search scans: lower-casing 3.3M lines on every
    # search cost 0.3 s of its 0.4 s at 1M clips (bench/said_scale.py). DuckDB cannot add a NOT
    # NULL column to a filled table in one transaction, so the table is copied once with it
    # (8 s at 1M clips) and given back step 10's constraints.
    12: (
        "CREATE TABLE transcripts_12 AS SELECT *, lower(text) AS text_lower FROM transcripts",
        *(
            f"ALTER TABLE transcripts_12 ALTER COLUMN {column} SET NOT NULL"
            for column in _LINE_REQUIRED
        ),
        "ALTER TABLE transcripts_12 ADD PRIMARY KEY (clip_id, track, asr_key, segment)",
        "DROP TABLE transcripts",
        "ALTER TABLE transcripts_12 RENAME TO transcripts",
    ),
    # Reading one clip by an index, not a scan of every row (clip_id_index_ddl): 14 s at 1.3M
    # tracks. NB DuckDB refuses ALTER TABLE on an indexed table: a later step drops these first.
    13: (*(clip_id_index_ddl(table) for table in CLIP_KEYED_TABLES), _index_embedding_tables),
}


def apply_step(con, step: int) -> None:
    """Run one migration step on an open connection and record it in schema_info."""
    for statement in MIGRATIONS[step]:
        if callable(statement):
            statement(con)
        else:
            con.execute(statement)
    con.execute("INSERT INTO schema_info VALUES (?)", [step])


ROLLUP_SINCE = 11  # a file older than this gets its rollups counted when migrated

# Columns a user may filter, sort or group by (anything else is refused, never interpolated).
CLIP_COLUMNS = (
    "corpus", "clip_id", "source_name", "duration_s", "source_rate_hz", "channels", "codec",
    "agent", "recorded_at", "speaker", "tags", "track", "top_label", "confidence",
    *SCORE_COLUMNS,
)  # fmt: skip


def embedding_table(dim: int) -> str:
    """The table holding embeddings of size `dim`.

    FLOAT[D] is a fixed-size array type, so each embedding size has its own table.
    """
    return f"embeddings_d{int(dim)}"


def embedding_table_ddl(dim: int) -> tuple[str, str]:
    """The embedding table of size `dim` and its clip_id index (both IF NOT EXISTS)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {embedding_table(dim)} ("
        f"clip_id VARCHAR NOT NULL, track VARCHAR NOT NULL, model_key VARCHAR NOT NULL, "
        f"embedding FLOAT[{int(dim)}] NOT NULL, PRIMARY KEY (clip_id, track, model_key))",
        clip_id_index_ddl(embedding_table(dim)),
    )


def clip_view_over(clips: str, predictions: str) -> str:
    """The clip view reading clips and predictions from these relations (tables or CTE names):
    one row per clip, track and prediction of one model (bound as the first parameter)."""
    return f"""
    SELECT co.name AS corpus, c.clip_id, c.source_name, c.source_path, c.duration_s,
           c.source_rate_hz, c.channels, c.codec, c.agent, c.recorded_at, c.speaker, c.tags,
           p.track, p.model_key, {", ".join(f"p.{s}" for s in SCORE_COLUMNS)},
           p.top_label, p.confidence, c.added_at
    FROM {clips} c
    JOIN corpora co USING (corpus_id)
    JOIN {predictions} p ON p.clip_id = c.clip_id AND p.model_key = ?
"""


# One row per clip, track and prediction of one model (bound as the first parameter).
CLIP_VIEW = clip_view_over("clips", "predictions")
