"""The Overview's counts (core.analysis.overview tests and words them): the selection's volume,
its emotion mix per period, and per agent and emotion the tracks of the latest period and of the
ones before, all aggregated in DuckDB over the page's selection.

Counting: CLIP_VIEW has one row per corpus a clip is in, so the selection is first reduced to one
row per (clip_id, track) and a recording in two corpora counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from core.model.labels import EMOTIONS, LOW_CONFIDENCE
from core.records import ClipFilter
from core.store import rollup
from core.store.filters import where_sql
from core.store.schema import CLIP_VIEW


@dataclass(frozen=True)
class OverviewCounts:
    """What one pass over the selection counted."""

    volume: tuple  # recordings, tracks, hours, agents, first_at, last_at, undated tracks,
    # unclear share, low-confidence share
    mix: pd.DataFrame  # period_start, emotion, n tracks
    latest: date | None  # the period holding the newest recording
    shifts: pd.DataFrame | None  # agent, emotion, n_latest, k_latest, n_base, k_base (None: empty)


MAX_CORPUS_BITS = 64  # corpora that fit the bit mask of _aggregate (a UBIGINT)
# Corpora as bits, so that one pass can tell how many corpora a clip was selected in (below).
_CORPUS_BITS = (
    "JOIN (SELECT name, (row_number() OVER (ORDER BY name) - 1)::UBIGINT AS bit FROM corpora) cb"
    " ON cb.name = v.corpus"
)
# What each part of `agg` gives per row (the parts are combined by name).
_PART = "agent, period_start, recordings, tracks, seconds_audio, first_at, last_at, n_low, " + (
    ", ".join(f"n_{e}" for e in EMOTIONS)
)


def overview_counts(store, model_key: str, where: ClipFilter, part: str,
                    unclear: tuple[str, ...]) -> OverviewCounts:  # fmt: skip
    """The selection's counts with periods of the date_trunc `part`; `unclear` names the
    emotions whose share is data quality (other, unknown)."""
    with store.reading() as con:  # the temp table lives in this short-lived connection only
        _aggregate(con, model_key, where, part)
        volume = _volume(con, unclear)
        mix = con.execute(
            f"""SELECT * FROM (SELECT period_start, unnest(?::VARCHAR[]) AS emotion,
                   unnest([{", ".join(f"sum(n_{e})::BIGINT" for e in EMOTIONS)}]) AS n
               FROM agg GROUP BY period_start) WHERE n > 0
            ORDER BY period_start NULLS LAST, emotion""",
            [list(EMOTIONS)],
        ).df()
        latest = con.execute("SELECT max(period_start) FROM agg").fetchall()[0][0]
        shifts = _shift_counts(con, latest) if latest is not None else None
    return OverviewCounts(volume, mix, latest, shifts)


def _aggregate(con, model_key: str, where: ClipFilter, part: str) -> None:
    """The selection into `agg`: per agent and period, recordings, tracks, audio seconds,
    low-confidence tracks and tracks per top emotion (at most agents x periods rows).

    Summed from the day rollup when it is current and keeps the filters (core.store.rollup): a few
    ms at 1M clips instead of 0.6 s. Clips in several selected corpora are then counted from
    their tracks, as is everything when the rollup cannot answer.
    """
    if not rollup.answers(con, where):
        parts = [_per_recording(con, model_key, where, part, shared_only=False)]
    elif rollup.counts_shared_apart(con, where):
        parts = [_days(model_key, where, part, unshared_only=True),
                 _per_recording(con, model_key, where, part, shared_only=True)]  # fmt: skip
    else:
        parts = [_days(model_key, where, part)]
    sums = ", ".join(f"sum(n_{e}) AS n_{e}" for e in EMOTIONS)
    con.execute(
        f"""CREATE TEMP TABLE agg AS
        SELECT agent, period_start, sum(recordings) AS recordings, sum(tracks) AS tracks,
               sum(seconds_audio) AS seconds_audio, min(first_at) AS first_at,
               max(last_at) AS last_at, sum(n_low) AS n_low, {sums}
        FROM ({" UNION ALL BY NAME ".join(sql for sql, _ in parts)}) GROUP BY ALL""",
        [value for _, params in parts for value in params],
    )


def _days(model_key: str, where: ClipFilter, part: str,
          unshared_only: bool = False) -> tuple[str, list]:  # fmt: skip
    """The rollup's days of the selection (only those of clips in one corpus, if
    `unshared_only`): whole days sum exactly into days, weeks and months."""
    days, params = rollup.days(model_key, where)
    return (
        f"SELECT {_PART} FROM (SELECT *, date_trunc('{part}', day)::DATE AS period_start"
        f" FROM ({days}) v{' WHERE NOT v.shared' if unshared_only else ''})",
        params,
    )


def _per_recording(con, model_key: str, where: ClipFilter, part: str,
                   shared_only: bool) -> tuple[str, list]:  # fmt: skip
    """One row per selected recording (only those in several corpora, if `shared_only`),
    counted from its tracks.

    CLIP_VIEW repeats a clip once per corpus it is selected in. Per clip those rows are exactly
    C corpora x T tracks (corpus and prediction conditions are independent), so every count of
    rows divided by C counts tracks once; C comes from OR-ing one bit per corpus, far cheaper than
    a DISTINCT aggregate. Past 64 corpora the bits run out and count(DISTINCT) is used.
    """
    condition, params = where_sql(where)
    if shared_only:
        condition += " AND v.clip_id IN (SELECT clip_id FROM shared_clips)"
    n_corpora = con.execute("SELECT count(*) FROM corpora").fetchall()[0][0]
    bits, corpora = (
        (_CORPUS_BITS, "bit_count(bit_or(1::UBIGINT << cb.bit))")
        if n_corpora <= MAX_CORPUS_BITS
        else ("", "count(DISTINCT v.corpus)")
    )
    per_emotion = ", ".join(f"count(*) FILTER (WHERE v.top_label = ?) AS n_{e}" for e in EMOTIONS)
    # When corpora disagree on a clip's metadata the first agent and earliest date are taken.
    sql = f"""SELECT agent, date_trunc('{part}', recorded_at)::DATE AS period_start,
               1 AS recordings, n_rows // c AS tracks, duration_s AS seconds_audio,
               recorded_at AS first_at, recorded_at AS last_at, n_low // c AS n_low,
               {", ".join(f"n_{e} // c AS n_{e}" for e in EMOTIONS)}
        FROM (SELECT v.clip_id, min(v.agent) AS agent, min(v.recorded_at) AS recorded_at,
                     any_value(v.duration_s) AS duration_s, count(*) AS n_rows, {corpora} AS c,
                     count(*) FILTER (WHERE v.confidence < ?) AS n_low, {per_emotion}
              FROM ({CLIP_VIEW}) v {bits} WHERE {condition} GROUP BY v.clip_id)"""
    return sql, [LOW_CONFIDENCE, *EMOTIONS, model_key, *params]  # in the order the ? appear


def _volume(con, unclear: tuple[str, ...]) -> tuple:
    unclear_sum = " + ".join(f"sum(n_{e})" for e in unclear)
    return con.execute(
        f"""SELECT coalesce(sum(recordings), 0), coalesce(sum(tracks), 0),
               coalesce(sum(seconds_audio), 0) / 3600.0, count(DISTINCT agent), min(first_at),
               max(last_at), coalesce(sum(tracks) FILTER (WHERE period_start IS NULL), 0),
               coalesce(({unclear_sum}) / sum(tracks), 0), coalesce(sum(n_low) / sum(tracks), 0)
        FROM agg"""
    ).fetchall()[0]


def _shift_counts(con, latest: date) -> pd.DataFrame:
    """Per agent seen in the latest period and emotion: k and n there and in its earlier periods."""

    def sums(when: str) -> str:
        return ", ".join(f"coalesce(sum(n_{e}) FILTER (WHERE {when}), 0)::BIGINT" for e in EMOTIONS)

    return con.execute(
        f"""WITH a AS (SELECT *, period_start = ? AS latest FROM agg
                       WHERE agent IS NOT NULL AND period_start IS NOT NULL)
        SELECT agent, unnest(?::VARCHAR[]) AS emotion,
               coalesce(sum(tracks) FILTER (WHERE latest), 0)::BIGINT AS n_latest,
               unnest([{sums("latest")}]) AS k_latest,
               coalesce(sum(tracks) FILTER (WHERE NOT latest), 0)::BIGINT AS n_base,
               unnest([{sums("NOT latest")}]) AS k_base
        FROM a GROUP BY agent HAVING n_latest > 0 ORDER BY agent, emotion""",
        [latest, list(EMOTIONS)],
    ).df()
