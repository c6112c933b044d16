"""Stored 2-D projections with their clusters (the Clusters page): points, samples, profiles."""

from __future__ import annotations

import pandas as pd

from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import ClipFilter
from core.store.filters import where_sql
from core.store.query import read_frame
from core.store.schema import CLIP_VIEW


def read_projection(store, key: str) -> pd.DataFrame:
    """A stored projection (clip_id, track, x, y, cluster), empty when not computed yet."""
    return read_frame(
        store,
        "SELECT clip_id, track, x, y, cluster FROM projections WHERE projection_key = ?"
        " ORDER BY clip_id, track",
        [key],
    )


def save_projection(store, key: str, frame: pd.DataFrame) -> None:
    """Store a 2-D projection with cluster ids (columns clip_id, track, x, y, cluster).

    One columnar INSERT from the DataFrame: 100,000 points go in at once, not row by row.
    """
    points = frame[["clip_id", "track", "x", "y", "cluster"]]
    with store.writing(changes_results=False) as con:
        con.execute("DELETE FROM projections WHERE projection_key = ?", [key])
        con.register("new_points", points)
        con.execute(
            "INSERT INTO projections SELECT ?, clip_id, track, x, y, cluster FROM new_points",
            [key],
        )
        con.unregister("new_points")


def projection_size(store, key: str) -> int:
    """Points stored for a projection (0 when not computed)."""
    with store.reading() as con:
        return int(
            con.execute(
                "SELECT count(*) FROM projections WHERE projection_key = ?", [key]
            ).fetchall()[0][0]
        )


def projection_points(store, key: str, model_key: str, where: ClipFilter,
                      max_points: int) -> pd.DataFrame:  # fmt: skip
    """Points of a stored projection with what the map shows of their clip; a deterministic
    sample of at most `max_points` (hash order), so a browser never receives a million
    markers.

    The sample is drawn from the projection alone and only then joined to its clips: every
    stored point is in the selection (the key says so), and the filter only picks which of
    a clip's corpora is named.
    """
    sql_condition, params = where_sql(where)
    scores = ", ".join(f"v.{c}" for c in SCORE_COLUMNS)
    return read_frame(
        store,
        "SELECT * FROM (SELECT DISTINCT ON (pr.clip_id, pr.track) pr.x, pr.y, pr.cluster,"
        f" v.corpus, v.clip_id, v.track, v.source_name, v.agent, {scores}, v.top_label,"
        " v.confidence, pr.rank FROM (SELECT clip_id, track, x, y, cluster,"
        "  row_number() OVER (ORDER BY hash(clip_id || '/' || track), clip_id, track) AS rank"
        "  FROM projections WHERE projection_key = ? QUALIFY rank <= ?) pr"
        f" JOIN ({CLIP_VIEW}) v ON v.clip_id = pr.clip_id AND v.track = pr.track"
        f" WHERE {sql_condition}) ORDER BY rank",
        [key, int(max_points), model_key, *params],
    ).drop(columns="rank")


def cluster_profile(store, key: str, model_key: str, top_agents: int = 3) -> pd.DataFrame:
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
    return read_frame(store, sql, [model_key, key, int(top_agents)])
