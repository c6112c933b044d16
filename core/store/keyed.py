"""Reading one clip, or a page's few, through the single-column clip_id indexes (schema step 13).

DuckDB 2.0 answers `clip_id IN (...)` from an ART index only when that is the only filter of
the table's scan: any other condition pushed into the same scan (a model, a track, a corpus)
makes it a scan of every row. So the rows of the clips asked for are taken first, in a
MATERIALIZED common table expression the optimizer does not merge with what follows, and the
rest of the query filters those. At 1.3M tracks: a clip's segments 220 -> 6 ms, its embedding
65 -> 10 ms, its row of the clip view ~200 -> ~15 ms (bench/results/clip-lookups-*.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.records import ClipFilter
from core.store.schema import CLIP_VIEW, clip_view_over


def rows_of(name: str, table: str, clip_ids: Sequence[str]) -> tuple[str, list]:
    """`name AS MATERIALIZED (...)` for a WITH clause, `table`'s rows of these clips, and its
    parameters: one placeholder per id, as a bound list (`IN (SELECT unnest(?))`, `= ANY(?)`)
    is a scan of every row again."""
    ids = list(dict.fromkeys(clip_ids)) or [None]  # IN () is not SQL; NULL matches nothing
    marks = ", ".join("?" * len(ids))
    return f"{name} AS MATERIALIZED (SELECT * FROM {table} WHERE clip_id IN ({marks}))", ids


def clip_view_of(model_key: str, clip_ids: Sequence[str]) -> tuple[str, list]:
    """The clip view of these clips only, read by index, and its parameters."""
    clips, clip_params = rows_of("keyed_clips", "clips", clip_ids)
    predictions, prediction_params = rows_of("keyed_predictions", "predictions", clip_ids)
    sql = f"WITH {clips}, {predictions} {clip_view_over('keyed_clips', 'keyed_predictions')}"
    return sql, [*clip_params, *prediction_params, model_key]


def clip_view(model_key: str, where: ClipFilter) -> tuple[str, list]:
    """The clip view for a selection, and its parameters: read by index when the selection
    names its clips (a link to one clip, a search's results), else the whole view."""
    if where.clip_ids:
        return clip_view_of(model_key, where.clip_ids)
    return CLIP_VIEW, [model_key]
