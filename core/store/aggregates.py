"""Read queries that return what a page shows, never the corpus: pages, counts, trends, profiles.

At call-centre scale (a million clips) shipping the clip table to pandas costs seconds per page;
here DuckDB filters, sorts, pages and aggregates, and the page receives a few hundred rows.
`AggregateReads` is mixed into `core.store.reads.StoreReads` (which supplies `reading()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter
from core.store import rollup
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


def _selection(where: ClipFilter, search: str = "") -> tuple[str, list]:
    """The filter's condition plus a case-insensitive substring search on the file name."""
    condition, params = where.where()
    if search.strip():
        # contains(), not LIKE: a user's % or _ is a character, not a wildcard.
        condition += " AND contains(lower(v.source_name), lower(?))"
        params.append(search.strip())
    return condition, params


class AggregateReads:
    """Paged, counted and aggregated reads; see core.store.database.Store for connections."""

    def clip_page(self, model_key: str, query: ClipQuery = ClipQuery()) -> pd.DataFrame:
        """One page of clips (tracks) with their scores, sorted and filtered in the database."""
        with self.reading() as con:
            return self._page(con, model_key, query)

    @staticmethod
    def _page(con, model_key: str, query: ClipQuery) -> pd.DataFrame:
        if query.order_by not in CLIP_COLUMNS:
            raise InputError(f"cannot sort by {query.order_by!r}.")
        condition, params = _selection(query.where, query.search)
        direction = "DESC" if query.descending else "ASC"
        sql = (
            f"SELECT * EXCLUDE (model_key, added_at) FROM ({CLIP_VIEW}) v WHERE {condition}"
            f" ORDER BY v.{query.order_by} {direction} NULLS LAST, v.clip_id, v.track"
            " LIMIT ? OFFSET ?"
        )
        params += [int(query.page_rows), int(query.page) * int(query.page_rows)]
        return con.execute(sql, [model_key, *params]).df()

    def clip_table(self, model_key: str, query: ClipQuery) -> tuple[ClipSummary, pd.DataFrame]:
        """The summary and one page of a selection, read on one connection: the second query
        finds the columns the first one read already in DuckDB's buffer pool."""
        with self.reading() as con:
            summary = self._summary(con, model_key, query.where, query.search)
            return summary, self._page(con, model_key, query)

    def clip_summary(self, model_key: str, where: ClipFilter = ClipFilter(),
                     search: str = "") -> ClipSummary:  # fmt: skip
        """Row count, recording count and mean confidence of a selection."""
        with self.reading() as con:
            return self._summary(con, model_key, where, search)

    @staticmethod
    def _summary(con, model_key: str, where: ClipFilter, search: str) -> ClipSummary:
        if not search and rollup.answers(con, where):
            return _summary_from_days(con, model_key, where)
        condition, params = _selection(where, search)
        rows, recordings, confidence = con.execute(
            f"SELECT count(*), count(DISTINCT v.clip_id), avg(v.confidence)"
            f" FROM ({CLIP_VIEW}) v WHERE {condition}",
            [model_key, *params],
        ).fetchall()[0]
        return ClipSummary(int(rows), int(recordings), confidence)

    def trends(self, model_key: str, where: ClipFilter = ClipFilter(),
               period: str = "week") -> pd.DataFrame:  # fmt: skip
        """Per agent and period: n, share of each top emotion, mean confidence, low-n flag.

        Clips without an agent or a recording date cannot be placed and are left out.
        """
        if period not in PERIODS:
            raise InputError(f"period {period!r}: choose one of {', '.join(PERIODS)}.")
        with self.reading() as con:
            if rollup.answers(con, where):
                return _trends_from_days(con, model_key, where, period)
            condition, params = where.where()
            shares = ", ".join(f"avg((v.top_label = ?)::DOUBLE) AS {e}" for e in EMOTIONS)
            sql = (
                f"SELECT v.agent, date_trunc(?, v.recorded_at) AS period, count(*) AS n, {shares},"
                f" avg(v.confidence) AS mean_confidence, count(*) < ? AS low_n"
                f" FROM ({CLIP_VIEW}) v WHERE {condition}"
                " AND v.agent IS NOT NULL AND v.recorded_at IS NOT NULL"
                " GROUP BY v.agent, period ORDER BY v.agent, period"
            )
            return con.execute(sql, [period, *EMOTIONS, LOW_N, model_key, *params]).df()

    def selection_fingerprint(self, model_key: str, where: ClipFilter) -> tuple[int, int]:
        """(rows, order-free hash of their ids): names a selection without listing it.

        A sum of per-row hashes, not an XOR: a clip held by two corpora must not cancel out.
        """
        condition, params = where.where()
        with self.reading() as con:
            n, digest = con.execute(
                f"SELECT count(*), coalesce(sum(hash(v.clip_id, v.track))::HUGEINT"
                f" % 18446744073709551557, 0) FROM ({CLIP_VIEW}) v WHERE {condition}",
                [model_key, *params],
            ).fetchall()[0]
        return int(n), int(digest)

    def projection_size(self, key: str) -> int:
        """Points stored for a projection (0 when not computed)."""
        with self.reading() as con:
            return int(
                con.execute(
                    "SELECT count(*) FROM projections WHERE projection_key = ?", [key]
                ).fetchall()[0][0]
            )

    def projection_points(self, key: str, model_key: str, where: ClipFilter,
                          max_points: int) -> pd.DataFrame:  # fmt: skip
        """Points of a stored projection with what the map shows of their clip; a deterministic
        sample of at most `max_points` (hash order), so a browser never receives a million
        markers.

        The sample is drawn from the projection alone and only then joined to its clips: every
        stored point is in the selection (the key says so), and the filter only picks which of
        a clip's corpora is named.
        """
        condition, params = where.where()
        scores = ", ".join(f"v.{c}" for c in SCORE_COLUMNS)
        return self._query(
            "SELECT * FROM (SELECT DISTINCT ON (pr.clip_id, pr.track) pr.x, pr.y, pr.cluster,"
            f" v.corpus, v.clip_id, v.track, v.source_name, v.agent, {scores}, v.top_label,"
            " v.confidence, pr.rank FROM (SELECT clip_id, track, x, y, cluster,"
            "  row_number() OVER (ORDER BY hash(clip_id || '/' || track), clip_id, track) AS rank"
            "  FROM projections WHERE projection_key = ? QUALIFY rank <= ?) pr"
            f" JOIN ({CLIP_VIEW}) v ON v.clip_id = pr.clip_id AND v.track = pr.track"
            f" WHERE {condition}) ORDER BY rank",
            [key, int(max_points), model_key, *params],
        ).drop(columns="rank")

    def cluster_profile(self, key: str, model_key: str, top_agents: int = 3) -> pd.DataFrame:
        """Per cluster of a stored projection: n, mean of each score, commonest top emotion and
        the most frequent agents ("name (n)")."""
        means = ", ".join(f"avg({c}) AS {e}" for e, c in zip(EMOTIONS, SCORE_COLUMNS, strict=True))
        points = (
            f"SELECT DISTINCT ON (pr.clip_id, pr.track) pr.cluster, v.agent, v.top_label,"
            f" {', '.join(f'v.{c}' for c in SCORE_COLUMNS)} FROM projections pr"
            f" JOIN ({CLIP_VIEW}) v ON v.clip_id = pr.clip_id AND v.track = pr.track"
            " WHERE pr.projection_key = ?"
        )
        sql = f"""WITH pts AS ({points}),
            base AS (SELECT cluster, count(*) AS n, {means} FROM pts GROUP BY cluster),
            label AS (SELECT cluster, top_label AS top_emotion FROM pts
                      GROUP BY cluster, top_label QUALIFY row_number() OVER
                      (PARTITION BY cluster ORDER BY count(*) DESC, top_label) = 1),
            agents AS (SELECT cluster, agent, count(*) AS k FROM pts WHERE agent IS NOT NULL
                       GROUP BY cluster, agent QUALIFY row_number() OVER
                       (PARTITION BY cluster ORDER BY count(*) DESC, agent) <= ?),
            top AS (SELECT cluster, string_agg(agent || ' (' || k || ')', ', '
                    ORDER BY k DESC, agent) AS top_agents FROM agents GROUP BY cluster)
            SELECT base.*, label.top_emotion, coalesce(top.top_agents, '—') AS top_agents
            FROM base JOIN label USING (cluster) LEFT JOIN top USING (cluster)
            ORDER BY cluster"""
        return self._query(sql, [model_key, key, int(top_agents)])

    def curve_tracks(self, model_key: str, search: str = "", clip_ids: Sequence[str] = (),
                     limit: int = 200) -> pd.DataFrame:  # fmt: skip
        """Tracks with stored frame curves, one row per (clip, track) whatever the number of
        corpora holding the audio (their names joined), matching a file-name search; the
        column `matches` counts every match, not only the `limit` rows returned."""
        where = ClipFilter(clip_ids=tuple(clip_ids))
        condition, params = _selection(where, search)
        return self._query(
            f"SELECT v.clip_id, v.track, any_value(v.source_name) AS source_name,"
            f" any_value(v.source_path) AS source_path, any_value(v.duration_s) AS duration_s,"
            f" any_value(v.top_label) AS top_label,"
            f" string_agg(DISTINCT v.corpus, ', ' ORDER BY v.corpus) AS corpus,"
            f" count(*) OVER () AS matches"
            f" FROM ({CLIP_VIEW}) v JOIN frame_curves f ON f.clip_id = v.clip_id"
            f" AND f.track = v.track AND f.model_key = v.model_key WHERE {condition}"
            f" GROUP BY v.clip_id, v.track ORDER BY source_name, v.track, v.clip_id LIMIT ?",
            [model_key, *params, int(limit)],
        )


def _trends_from_days(con, model_key: str, where: ClipFilter, period: str) -> pd.DataFrame:
    """AggregateReads.trends summed from the day rollup (core.store.rollup): the same columns, from
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
    """AggregateReads._summary summed from the day rollup (core.store.rollup); recordings held by two
    selected corpora are counted from their tracks, once (0.3 s at 1M clips, #9)."""
    days, params = rollup.days(model_key, where)
    apart = rollup.counts_shared_apart(con, where)
    rows, confidence_sum, recordings = con.execute(
        f"SELECT coalesce(sum(v.tracks), 0), sum(v.sum_confidence),"
        f" coalesce(sum(v.recordings) FILTER (WHERE NOT (v.shared AND ?)), 0) FROM ({days}) v",
        [apart, *params],
    ).fetchall()[0]
    if apart:
        condition, params = where.where()
        recordings += con.execute(
            f"SELECT count(DISTINCT v.clip_id) FROM ({CLIP_VIEW}) v WHERE {condition}"
            " AND v.clip_id IN (SELECT clip_id FROM shared_clips)",
            [model_key, *params],
        ).fetchall()[0][0]
    confidence = None if rows == 0 else confidence_sum / rows
    return ClipSummary(int(rows), int(recordings), confidence)
