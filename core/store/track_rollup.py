"""The day rollup per track (#30): per model, corpus, agent, day and track name, the tracks and
how many had each top emotion, so that a voice (the customer's track of split calls with the
single track of unsplit recordings) is summed from days like everything else.

core.store.rollup keeps no track, so with split calls in the database the customer's voice was
counted from every track: 2.0 s for Needs attention and 2.2 s for Agent trends at 1M clips on a
busy machine, against a few ms from days. This table is rebuilt in the same transaction as the
day rollup (core.store.rollup.rebuild) and is current exactly when it is.

It answers corpus, agent, whole days and track; recordings and audio seconds are not kept (a
recording has several tracks): those still come from the day rollup.
"""

from __future__ import annotations

from datetime import time

from core.model.labels import EMOTIONS, LOW_CONFIDENCE
from core.records import ClipFilter
from core.store.filters import where_sql

COLUMNS = ("corpus", "agent", "recorded_at", "track")
_DAYS_VIEW = (
    "SELECT co.name AS corpus, r.*, r.day::TIMESTAMP AS recorded_at"
    " FROM track_day_rollup r JOIN corpora co USING (corpus_id)"
)

DDL = (
    f"""CREATE TABLE track_day_rollup (
        model_key VARCHAR NOT NULL,
        corpus_id INTEGER NOT NULL,
        agent VARCHAR,
        day DATE,
        track VARCHAR NOT NULL,
        shared BOOLEAN NOT NULL,
        tracks BIGINT NOT NULL,
        n_low BIGINT NOT NULL,
        sum_confidence DOUBLE NOT NULL,
        {", ".join(f"n_{e} BIGINT NOT NULL" for e in EMOTIONS)})""",
)


def rebuild(con) -> None:
    """Recount from every prediction, inside the caller's transaction, after shared_clips."""
    per_emotion = ", ".join("count(*) FILTER (WHERE p.top_label = ?)" for _ in EMOTIONS)
    con.execute("DELETE FROM track_day_rollup")
    con.execute(
        f"""INSERT INTO track_day_rollup
        SELECT p.model_key, c.corpus_id, c.agent, c.recorded_at::DATE, p.track,
               s.clip_id IS NOT NULL, count(*), count(*) FILTER (WHERE p.confidence < ?),
               sum(p.confidence), {per_emotion}
        FROM predictions p JOIN clips c USING (clip_id) LEFT JOIN shared_clips s USING (clip_id)
        GROUP BY ALL""",
        [LOW_CONFIDENCE, *EMOTIONS],
    )


def days(model_key: str, where: ClipFilter) -> tuple[str, list]:
    """The selection's days and tracks of one model, as a query (alias its rows `v`)."""
    condition, params = where_sql(where, COLUMNS)
    return (f"SELECT * FROM ({_DAYS_VIEW}) v WHERE v.model_key = ? AND {condition}",
            [model_key, *params])  # fmt: skip


def keeps(where: ClipFilter) -> bool:
    """Only corpus, agent, track and whole-day dates: every other filter at its 'any' value.
    (Whether the rollup is current is core.store.rollup's to say.)"""
    untouched = (
        not (where.top_labels or where.clip_ids or where.said or where.events or where.cluster)
        and where.min_confidence <= 0.0
        and where.max_confidence >= 1.0
        and where.min_duration_s <= 0.0
        and where.max_duration_s is None
    )
    return untouched and all(
        d is None or d.time() == time() for d in (where.date_from, where.date_to)
    )
