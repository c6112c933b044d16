"""Read queries that return what a page shows, never the corpus: pages, counts, trends, profiles.

At call-centre scale (a million clips) shipping the clip table to pandas costs seconds per page;
here DuckDB filters, sorts, pages and aggregates, and the page receives a few hundred rows.
Each function takes the store (or, for the parts one connection reads together, a connection).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS
from core.records import ClipFilter
from core.store import rollup
from core.store.filters import where_sql, with_search
from core.store.keyed import clip_view
from core.store.schema import CLIP_COLUMNS, CLIP_VIEW

PERIODS = ("day", "week", "month")  # DuckDB date_trunc parts; a week starts on Monday
LOW_N = 5  # cells with fewer clips are flagged, never hidden
PAGE_ROWS = 500


@dataclass(frozen=True)
class ClipQuery:
    """One page of the clip table: filters, a file-name search, the sort and the page."""

    where: ClipFilter = ClipFilter()
    search: str = ""
    order_by: str = "source_name"
    descending: bool = False
    page: int = 0
    page_rows: int = PAGE_ROWS


@dataclass(frozen=True)
class ClipSummary:
    """What the page says about a selection: rows (clip tracks), recordings, mean confidence."""

    rows: int
    recordings: int
    mean_confidence: float | None


def clip_page(store, model_key: str, query: ClipQuery = ClipQuery()) -> pd.DataFrame:
    """One page of clips (tracks) with their scores, sorted and filtered in the database."""
    with store.reading() as con:
        return page_in(con, model_key, query)


def page_in(con, model_key: str, query: ClipQuery) -> pd.DataFrame:
    sql_condition, params = with_search(query.where, query.search)
    view, view_params = clip_view(model_key, query.where)
    sql = (
        f"SELECT * EXCLUDE (model_key, added_at) FROM ({view}) v WHERE {sql_condition}"
        f" ORDER BY {_order(query, 'v')} LIMIT ? OFFSET ?"
    )
    params += [int(query.page_rows), int(query.page) * int(query.page_rows)]
    return con.execute(sql, [*view_params, *params]).df()


def _order(query: ClipQuery, alias: str) -> str:
    if query.order_by not in CLIP_COLUMNS:
        raise InputError(f"cannot sort by {query.order_by!r}.")
    direction = "DESC" if query.descending else "ASC"
    return (f"{alias}.{query.order_by} {direction} NULLS LAST, {alias}.clip_id,"
            f" {alias}.track")  # fmt: skip


def clip_table(store, model_key: str, query: ClipQuery) -> tuple[ClipSummary, pd.DataFrame]:
    """The summary and one page of a selection, read on one connection: the second query
    finds the columns the first one read already in DuckDB's buffer pool. A said search selects
    once for both (_said_table), as scanning every transcript line is most of its cost."""
    with store.reading() as con:
        if query.where.said.strip():
            return _said_table(con, model_key, query)
        summary = summary_in(con, model_key, query.where, query.search)
        return summary, page_in(con, model_key, query)


_TOTALS = ("rows_", "recordings_", "confidence_")


def _said_table(con, model_key: str, query: ClipQuery) -> tuple[ClipSummary, pd.DataFrame]:
    """summary_in and page_in in one query: the selection is kept once (at most the transcribed
    tracks, since only they can match) and both are read from it; at 1M clips 0.5 s, not 0.9."""
    sql_condition, params = with_search(query.where, query.search)
    frame = con.execute(
        f"WITH picked AS MATERIALIZED (SELECT * EXCLUDE (model_key, added_at)"
        f" FROM ({CLIP_VIEW}) v WHERE {sql_condition}),"
        " totals AS (SELECT count(*) AS rows_, count(DISTINCT clip_id) AS recordings_,"
        " avg(confidence) AS confidence_ FROM picked),"
        f" page AS (SELECT * FROM picked p ORDER BY {_order(query, 'p')} LIMIT ? OFFSET ?)"
        f" SELECT * FROM totals LEFT JOIN page p ON TRUE ORDER BY {_order(query, 'p')}",
        [model_key, *params, int(query.page_rows), int(query.page) * int(query.page_rows)],
    ).df()
    rows, recordings, confidence = frame[list(_TOTALS)].iloc[0]
    summary = ClipSummary(int(rows), int(recordings), None if pd.isna(confidence) else confidence)
    page = frame.drop(columns=list(_TOTALS))
    return summary, page[page.clip_id.notna()].reset_index(drop=True)


def clip_summary(store, model_key: str, where: ClipFilter = ClipFilter(),
                 search: str = "") -> ClipSummary:  # fmt: skip
    """Row count, recording count and mean confidence of a selection."""
    with store.reading() as con:
        return summary_in(con, model_key, where, search)


def summary_in(con, model_key: str, where: ClipFilter, search: str) -> ClipSummary:
    if not search and rollup.answers(con, where):
        return _summary_from_days(con, model_key, where)
    sql_condition, params = with_search(where, search)
    view, view_params = clip_view(model_key, where)
    rows, recordings, confidence = con.execute(
        f"SELECT count(*), count(DISTINCT v.clip_id), avg(v.confidence)"
        f" FROM ({view}) v WHERE {sql_condition}",
        [*view_params, *params],
    ).fetchall()[0]
    return ClipSummary(int(rows), int(recordings), confidence)


def agent_trends(store, model_key: str, where: ClipFilter = ClipFilter(),
           period: str = "week") -> pd.DataFrame:  # fmt: skip
    """Per agent and period: n, share of each top emotion, mean confidence, low-n flag.

    Clips without an agent or a recording date cannot be placed and are left out.
    """
    if period not in PERIODS:
        raise InputError(f"period {period!r}: choose one of {', '.join(PERIODS)}.")
    with store.reading() as con:
        if rollup.answers(con, where):
            return _trends_from_days(con, model_key, where, period)
        sql_condition, params = where_sql(where)
        shares = ", ".join(f"avg((v.top_label = ?)::DOUBLE) AS {e}" for e in EMOTIONS)
        sql = (
            f"SELECT v.agent, date_trunc(?, v.recorded_at) AS period, count(*) AS n, {shares},"
            f" avg(v.confidence) AS mean_confidence, count(*) < ? AS low_n"
            f" FROM ({CLIP_VIEW}) v WHERE {sql_condition}"
            " AND v.agent IS NOT NULL AND v.recorded_at IS NOT NULL"
            " GROUP BY v.agent, period ORDER BY v.agent, period"
        )
        return con.execute(sql, [period, *EMOTIONS, LOW_N, model_key, *params]).df()


def selection_fingerprint(store, model_key: str, where: ClipFilter) -> tuple[int, int]:
    """(rows, order-free hash of their ids): names a selection without listing it.

    A sum of per-row hashes, not an XOR: a clip held by two corpora must not cancel out.
    """
    sql_condition, params = where_sql(where)
    with store.reading() as con:
        n, digest = con.execute(
            f"SELECT count(*), coalesce(sum(hash(v.clip_id, v.track))::HUGEINT"
            f" % 18446744073709551557, 0) FROM ({CLIP_VIEW}) v WHERE {sql_condition}",
            [model_key, *params],
        ).fetchall()[0]
    return int(n), int(digest)


def _trends_from_days(con, model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """trends summed from the day rollup (core.store.rollup): the same columns, from
    at most agents x days rows instead of every track (0.4 s at 1M clips, #9)."""
    days, params = rollup.days(model_key, where)
    shares = ", ".join(f"sum(v.n_{e}) / sum(v.tracks) AS {e}" for e in EMOTIONS)
    return con.execute(
        f"SELECT v.agent, date_trunc(?, v.day)::TIMESTAMP AS period, sum(v.tracks)::BIGINT AS n,"
        f" {shares}, sum(v.sum_confidence) / sum(v.tracks) AS mean_confidence,"
        f" sum(v.tracks) < ? AS low_n FROM ({days}) v"
        " WHERE v.agent IS NOT NULL AND v.day IS NOT NULL"
        " GROUP BY v.agent, period ORDER BY v.agent, period",
        [period, LOW_N, *params],
    ).df()


def _summary_from_days(con, model_key: str, where: ClipFilter) -> ClipSummary:
    """summary_in summed from the day rollup (core.store.rollup); recordings held by two
    selected corpora are counted from their tracks, once (0.3 s at 1M clips, #9)."""
    days, params = rollup.days(model_key, where)
    apart = rollup.counts_shared_apart(con, where)
    rows, confidence_sum, recordings = con.execute(
        f"SELECT coalesce(sum(v.tracks), 0), sum(v.sum_confidence),"
        f" coalesce(sum(v.recordings) FILTER (WHERE NOT (v.shared AND ?)), 0) FROM ({days}) v",
        [apart, *params],
    ).fetchall()[0]
    if apart:
        sql_condition, params = where_sql(where)
        recordings += con.execute(
            f"SELECT count(DISTINCT v.clip_id) FROM ({CLIP_VIEW}) v WHERE {sql_condition}"
            " AND v.clip_id IN (SELECT clip_id FROM shared_clips)",
            [model_key, *params],
        ).fetchall()[0][0]
    confidence = None if rows == 0 else confidence_sum / rows
    return ClipSummary(int(rows), int(recordings), confidence)
