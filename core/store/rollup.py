"""Per model, corpus, agent and day: the counts the Overview, Agent trends and the Clips page's
summary sum, kept in the database.

At 1M clips the Overview's pass over the tracks joins 1.3M predictions to their clips and groups
them per recording: 0.6 s on two idle cores, over 1 s with a browser on the other core (#9).
Its numbers are sums per agent and period, so they can be summed from days instead: at most
agents x days rows per model and corpus (150k at 1M clips), read in a few milliseconds.

Right by construction, not by care:
- every write transaction adds one to `data_version` unless it says it leaves clips,
  predictions and corpora as they were (`Store.writing(changes_results=False)`), so a writer
  added later invalidates the rollup by default;
- the rollup records the version it was built from, and a reader uses it only while that is
  still the version; otherwise the page counts from the tracks, as before;
- it is rebuilt when an ingest run ends, when a corpus is deleted, and by the migration that
  created it. During a long ingest the Overview therefore counts live: slower, never stale.

It answers only the filters it keeps: corpus, agent and whole days (the dashboard's dates).
"""

from __future__ import annotations

from datetime import datetime, time

from core.model.labels import EMOTIONS, LOW_CONFIDENCE
from core.records import ClipFilter
from core.store import track_rollup
from core.store.filters import where_sql

# The filters the rollup can answer, by the columns of filters.where_sql.
COLUMNS = ("corpus", "agent", "recorded_at")
# The rollup's rows with their corpus's name, in the shape filters.where_sql(where, COLUMNS) reads:
# `recorded_at` is the day's midnight, exact for conditions on whole days.
_DAYS_VIEW = (
    "SELECT co.name AS corpus, r.*, r.day::TIMESTAMP AS recorded_at"
    " FROM day_rollup r JOIN corpora co USING (corpus_id)"
)

DDL = (
    "CREATE TABLE data_version (version BIGINT NOT NULL)",
    "INSERT INTO data_version VALUES (1)",
    # `shared`: the clip is in more than one corpus, and a recording must be counted once
    # across them: the Overview counts those few from their tracks (core.analysis.overview).
    f"""CREATE TABLE day_rollup (
        model_key VARCHAR NOT NULL,
        corpus_id INTEGER NOT NULL,
        agent VARCHAR,
        day DATE,
        shared BOOLEAN NOT NULL,
        recordings BIGINT NOT NULL,
        tracks BIGINT NOT NULL,
        seconds_audio DOUBLE NOT NULL,
        first_at TIMESTAMP,
        last_at TIMESTAMP,
        n_low BIGINT NOT NULL,
        sum_confidence DOUBLE NOT NULL,
        {", ".join(f"n_{e} BIGINT NOT NULL" for e in EMOTIONS)})""",
    "CREATE TABLE shared_clips (clip_id VARCHAR PRIMARY KEY)",
    # One row once built: the data version the rollup and shared_clips were built from.
    "CREATE TABLE rollup_state (built_from BIGINT NOT NULL)",
)


def days(model_key: str, where: ClipFilter) -> tuple[str, list]:
    """The selection's days of one model, as a query (alias its rows `v`) with its parameters;
    for a `where` the rollup answers (`answers`)."""
    condition, params = where_sql(where, COLUMNS)
    return (f"SELECT * FROM ({_DAYS_VIEW}) v WHERE v.model_key = ? AND {condition}",
            [model_key, *params])  # fmt: skip


def bump(con) -> None:
    """Mark the results as changed (inside the writer's transaction): the rollup is stale."""
    con.execute("UPDATE data_version SET version = version + 1")


def rebuild(con) -> None:
    """Recount the rollup from every clip and prediction, inside the caller's transaction."""
    per_emotion = ", ".join(f"count(*) FILTER (WHERE top_label = ?) AS n_{e}" for e in EMOTIONS)
    con.execute("DELETE FROM shared_clips")
    con.execute(
        "INSERT INTO shared_clips SELECT clip_id FROM clips GROUP BY clip_id HAVING count(*) > 1"
    )
    con.execute("DELETE FROM day_rollup")
    # The tracks are counted per clip first, without the clip's strings in the group (#9).
    con.execute(
        f"""INSERT INTO day_rollup
        WITH per_clip AS (
            SELECT model_key, clip_id, count(*) AS tracks,
                   count(*) FILTER (WHERE confidence < ?) AS n_low,
                   sum(confidence) AS sum_confidence, {per_emotion}
            FROM predictions GROUP BY model_key, clip_id)
        SELECT p.model_key, c.corpus_id, c.agent, c.recorded_at::DATE,
               s.clip_id IS NOT NULL, count(*), sum(p.tracks), sum(c.duration_s),
               min(c.recorded_at), max(c.recorded_at), sum(p.n_low), sum(p.sum_confidence),
               {", ".join(f"sum(p.n_{e})" for e in EMOTIONS)}
        FROM per_clip p JOIN clips c USING (clip_id) LEFT JOIN shared_clips s USING (clip_id)
        GROUP BY ALL""",
        [LOW_CONFIDENCE, *EMOTIONS],
    )
    track_rollup.rebuild(con)  # the same days per track (#30): current exactly when this is
    con.execute("DELETE FROM rollup_state")
    con.execute("INSERT INTO rollup_state SELECT version FROM data_version")


def refresh(con) -> None:
    """Rebuild the rollup if a write made it stale (a run that wrote nothing costs nothing)."""
    if not _current(con):
        rebuild(con)


def answers(con, where: ClipFilter) -> bool:
    """Whether the rollup is current and keeps every filter of `where`."""
    return _kept_filters(where) and _current(con)


def _current(con) -> bool:
    """Whether the rollup was built from the data as they are now."""
    state = con.execute(
        "SELECT s.built_from = v.version FROM rollup_state s, data_version v"
    ).fetchall()
    return bool(state and state[0][0])


def counts_shared_apart(con, where: ClipFilter) -> bool:
    """Whether a recording count over `where` must take the shared clips from their tracks:
    some clip is in two corpora and more than one corpus is selected."""
    if len(where.corpora) == 1:
        return False
    return con.execute("SELECT EXISTS (SELECT 1 FROM shared_clips)").fetchall()[0][0]


def _kept_filters(where: ClipFilter) -> bool:
    """Only corpus, agent and whole-day dates: every other filter is at its 'any' value."""
    untouched = (
        not (
            where.top_labels
            or where.tracks
            or where.clip_ids
            or where.said
            or where.events
            or where.cluster
        )
        and where.min_confidence <= 0.0
        and where.max_confidence >= 1.0
        and where.min_duration_s <= 0.0
        and where.max_duration_s is None
    )
    return untouched and all(_midnight(d) for d in (where.date_from, where.date_to))


def _midnight(moment: datetime | None) -> bool:
    return moment is None or moment.time() == time()
