"""A ClipFilter (core.records) as SQL: the condition over the clip view's alias `v`, and the
distinct values the dashboard's filter widgets offer."""

from __future__ import annotations

from collections.abc import Container

from core.records import ClipFilter, ClusterPick
from core.store.query import first_row


def where_sql(where: ClipFilter, columns: Container[str] | None = None) -> tuple[str, list]:
    """SQL condition over the `clip_view` alias v, with its bound parameters; with `columns`,
    only the conditions on those columns ("TRUE" when there are none)."""
    picked = [(sql, values) for column, sql, values in _conditions(where)
              if columns is None or column in columns]  # fmt: skip
    return " AND ".join(sql for sql, _ in picked) or "TRUE", [v for _, vs in picked for v in vs]


def with_search(where: ClipFilter, search: str = "") -> tuple[str, list]:
    """The filter's condition plus a case-insensitive substring search on the file name."""
    sql, params = where_sql(where)
    if search.strip():
        # contains(), not LIKE: a user's % or _ is a character, not a wildcard.
        sql += " AND contains(lower(v.source_name), lower(?))"
        params.append(search.strip())
    return sql, params


def normalised(said: str) -> str:
    """A said search as bound: runs of white space as one space. DuckDB lower-cases it when
    matched, as it lower-cased each stored line (Python's lower() differs on a few letters,
    such as the dotted capital I)."""
    return " ".join(said.split())


def _conditions(where: ClipFilter) -> list[tuple[str, str, list]]:
    """Each restriction as (column, SQL over alias v, its bound parameters)."""
    parts = [("confidence", "v.confidence BETWEEN ? AND ?", [where.min_confidence, where.max_confidence]),
             ("duration_s", "v.duration_s >= ?", [where.min_duration_s])]  # fmt: skip
    for column, values in (
        ("corpus", where.corpora), ("agent", where.agents), ("top_label", where.top_labels),
        ("track", where.tracks), ("clip_id", where.clip_ids),
    ):  # fmt: skip
        if values:
            parts.append((column, f"v.{column} IN ({', '.join('?' * len(values))})", list(values)))
    if where.max_duration_s is not None:
        parts.append(("duration_s", "v.duration_s <= ?", [where.max_duration_s]))
    said = normalised(where.said)
    if said:  # a plain scan: duckdb 2.0 has no full-text extension (core.store.transcripts)
        parts.append(("said", "EXISTS (SELECT 1 FROM transcripts s WHERE s.clip_id ="
                      " v.clip_id AND s.track = v.track AND contains(s.text_lower, lower(?)))",
                      [said]))  # fmt: skip
    if where.events:  # laughter, crying ...: any line of the track carries one of them
        parts.append(("events", "EXISTS (SELECT 1 FROM transcripts s WHERE s.clip_id ="
                      " v.clip_id AND s.track = v.track AND list_has_any(s.events, ?::VARCHAR[]))",
                      [list(where.events)]))  # fmt: skip
    if where.cluster is not None:
        parts.append(_in_cluster(where.cluster))
    if where.date_from is not None:
        parts.append(("recorded_at", "v.recorded_at >= ?", [where.date_from]))
    if where.date_to is not None:
        parts.append(("recorded_at", "v.recorded_at < ?", [where.date_to]))
    return parts


def _in_cluster(pick: ClusterPick) -> tuple[str, str, list]:
    """The tracks of one cluster of a stored projection (or, not `inside`, every other track)."""
    member = ("EXISTS (SELECT 1 FROM projections p WHERE p.projection_key = ? AND p.cluster = ?"
              " AND p.clip_id = v.clip_id AND p.track = v.track)")  # fmt: skip
    return ("cluster", member if pick.inside else f"NOT {member}",
            [pick.projection_key, int(pick.cluster)])  # fmt: skip


def filter_options(store) -> dict:
    """Distinct values for the dashboard's filter widgets, each agent's clip count, the date
    and duration bounds and whether anything was transcribed: one connection for the sidebar."""
    with store.reading() as con:
        agent_clips = dict(
            con.execute(
                "SELECT agent, count(*) FROM clips WHERE agent IS NOT NULL"
                " GROUP BY agent ORDER BY agent"
            ).fetchall()
        )
        bounds = first_row(
            con.execute("SELECT min(recorded_at), max(recorded_at), max(duration_s) FROM clips")
        )
        tracks = [
            r[0]
            for r in con.execute("SELECT DISTINCT track FROM predictions ORDER BY 1").fetchall()
        ]
        transcribed = first_row(con.execute("SELECT EXISTS (SELECT 1 FROM transcripts)"))[0]
    return {"agents": list(agent_clips), "agent_clips": agent_clips, "date_min": bounds[0], "date_max": bounds[1],
            "max_duration_s": bounds[2] or 0.0, "tracks": tracks, "transcribed": bool(transcribed)}  # fmt: skip
