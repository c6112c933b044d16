"""The counts behind "Needs attention" and the agent rankings (#30): per agent and period, the
selection's tracks and how many had each top emotion. The statistics are in
core.analysis.attention.

At most agents x periods rows come back. They are summed from the per-track day rollup when it
answers the filter (core.store.track_rollup: corpus, agent, whole days, track: the voice
counted for split calls; a few ms at 1M clips), otherwise counted from the tracks in one pass.
A recording selected in two corpora is counted once: its first agent and earliest date are
taken, as on the Overview.
"""

from __future__ import annotations

import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS
from core.records import ClipFilter
from core.store import aggregates, rollup, track_rollup
from core.store.filters import where_sql
from core.store.schema import CLIP_VIEW

PERIODS = ("day", "week", "month")  # date_trunc parts; a week starts on Monday
_COUNTS = ", ".join(f"count(*) FILTER (WHERE t.top_label = ?)::BIGINT AS n_{e}" for e in EMOTIONS)


def agent_periods(store, model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """agent, period_start (a date), tracks, n_<emotion> for every agent and period of the
    selection; undated tracks and tracks without an agent are left out."""
    if period not in PERIODS:
        raise InputError(f"period {period!r}: choose one of {', '.join(PERIODS)}.")
    with store.reading() as con:
        if _days_answer(con, where):
            days, params = track_rollup.days(model_key, where)
            sums = ", ".join(f"sum(v.n_{e})::BIGINT AS n_{e}" for e in EMOTIONS)
            sql = (
                f"SELECT v.agent, date_trunc('{period}', v.day)::DATE AS period_start,"
                f" sum(v.tracks)::BIGINT AS tracks, {sums} FROM ({days}) v"
                " WHERE v.agent IS NOT NULL AND v.day IS NOT NULL GROUP BY ALL"
            )
            frame = con.execute(sql, params).df()
        else:
            frame = _from_tracks(con, model_key, where, period)
    frame["period_start"] = pd.to_datetime(frame.period_start)
    return frame.sort_values(["agent", "period_start"], ignore_index=True)


def _days_answer(con, where: ClipFilter) -> bool:
    """Whether the per-track day rollup answers `where`, each track counted once."""
    return (
        track_rollup.keeps(where)
        and rollup.answers(con, ClipFilter())  # current
        and not rollup.counts_shared_apart(con, where)
    )


def agent_trends(store, model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """What core.store.aggregates' trends returns (per agent and period: n, each emotion's
    share, mean confidence, low_n), summed from the per-track days when they answer `where`
    (a voice's tracks included), else from that query."""
    if period not in PERIODS:
        raise InputError(f"period {period!r}: choose one of {', '.join(PERIODS)}.")
    with store.reading() as con:
        if _days_answer(con, where):
            days, params = track_rollup.days(model_key, where)
            shares = ", ".join(f"sum(v.n_{e}) / sum(v.tracks) AS {e}" for e in EMOTIONS)
            return con.execute(
                f"SELECT v.agent, date_trunc(?, v.day)::TIMESTAMP AS period,"
                f" sum(v.tracks)::BIGINT AS n, {shares},"
                f" sum(v.sum_confidence) / sum(v.tracks) AS mean_confidence,"
                f" sum(v.tracks) < ? AS low_n FROM ({days}) v"
                " WHERE v.agent IS NOT NULL AND v.day IS NOT NULL"
                " GROUP BY v.agent, period ORDER BY v.agent, period",
                [period, aggregates.LOW_N, *params],
            ).df()
    return aggregates.agent_trends(store, model_key, where, period)


def _from_tracks(con, model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    condition, params = where_sql(where)
    condition += " AND v.agent IS NOT NULL AND v.recorded_at IS NOT NULL"
    if _may_repeat(con, where):  # one row per (clip, track) however many corpora hold it
        tracks = (
            "SELECT min(v.agent) AS agent, min(v.recorded_at) AS recorded_at,"
            f" any_value(v.top_label) AS top_label FROM ({CLIP_VIEW}) v WHERE {condition}"
            " GROUP BY v.clip_id, v.track"
        )
    else:
        tracks = (
            f"SELECT v.agent, v.recorded_at, v.top_label FROM ({CLIP_VIEW}) v WHERE {condition}"
        )
    sql = (
        f"SELECT t.agent, date_trunc('{period}', t.recorded_at)::DATE AS period_start,"
        f" count(*)::BIGINT AS tracks, {_COUNTS} FROM ({tracks}) t GROUP BY ALL"
    )
    return con.execute(sql, [*EMOTIONS, model_key, *params]).df()


def _may_repeat(con, where: ClipFilter) -> bool:
    """Whether a clip may appear in more than one selected corpus."""
    if len(where.corpora) == 1:
        return False
    if rollup.answers(con, ClipFilter()):  # current: shared_clips lists every shared clip
        return rollup.counts_shared_apart(con, where)
    return True


def track_names(store, model_key: str) -> list[str]:
    """The track names this model scored: `mix`, and the roles of split calls."""
    with store.reading() as con:
        rows = con.execute(
            "SELECT DISTINCT track FROM predictions WHERE model_key = ? ORDER BY 1", [model_key]
        ).fetchall()
    return [r[0] for r in rows]
