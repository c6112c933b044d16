"""Request values turned into core's types, with one clear message for each bad one; results
turned into plain JSON values. The Clips page's URL parameters mean the same here."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS, SCORE_COLUMNS
from core.records import FILTER_EVENTS, ClipFilter
from core.store.aggregates import PAGE_ROWS, ClipQuery

# The Clips page's own URL parameters (dashboard/widgets.py, pages/clips.py), plus format and
# page_size: a dashboard URL's query string works here unchanged.
FILTERS = {"model", "corpus", "agent", "emotion", "role", "cmin", "cmax", "dmin", "dmax", "from",
           "to", "event"}  # fmt: skip
PAGING = {"q", "sort", "desc", "page", "page_size", "format"}
SORTABLE = ("source_name", "recorded_at", "duration_s", "confidence", "agent", "top_label",
            *SCORE_COLUMNS)  # fmt: skip
MAX_PAGE_ROWS = 5000
TRUE, FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}

__all__ = ["FILTERS", "ClipFilter", "clip_query", "model_key", "plain", "records"]


def choice(name: str, value: str | None, options) -> str:
    if value not in options:
        raise InputError(f"{name}={value!r}: choose one of {', '.join(options)}.")
    return value


def flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text not in TRUE | FALSE:
        raise InputError(f"{name}={value!r}: say true or false.")
    return text in TRUE


def corpus_name(value: str | None) -> str:
    name = (value or "").strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InputError("a corpus name has 1 to 200 printable characters.")
    return name


def number(name: str, value: str | None, default: float, low: float, high: float) -> float:
    if value is None:
        return default
    try:
        result = float(value)
    except ValueError:
        raise InputError(f"{name}={value!r}: give a number.") from None
    if not math.isfinite(result) or not low <= result <= high:
        raise InputError(f"{name}={value!r}: give a number from {low:g} to {high:g}.")
    return result


def whole(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.strip().isdigit() or not low <= int(value) <= high:
        raise InputError(f"{name}={value!r}: give a whole number from {low} to {high}.")
    return int(value)


def day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name}={value!r}: give a date as YYYY-MM-DD.") from None


def model_key(store, wanted: str | None) -> str:
    from core.cli.models import pick_model_key

    return pick_model_key(store, wanted or None)


def clip_query(store, query, allowed: set[str] = FILTERS | PAGING) -> tuple[str, ClipQuery]:
    """(model key, ClipQuery) from the Clips page's URL parameters; unknown ones are refused."""
    unknown = sorted(set(query.keys()) - allowed)
    if unknown:
        raise InputError(f"unknown parameter {unknown[0]!r}: use {', '.join(sorted(allowed))}.")
    emotions = tuple(query.getlist("emotion"))
    for emotion in emotions:
        choice("emotion", emotion, EMOTIONS)
    events = tuple(choice("event", e, FILTER_EVENTS) for e in query.getlist("event"))
    first, last = day("from", query.get("from")), day("to", query.get("to"))
    cmin = number("cmin", query.get("cmin"), 0.0, 0.0, 1.0)
    cmax = number("cmax", query.get("cmax"), 1.0, 0.0, 1.0)
    dmax = query.get("dmax")
    where = ClipFilter(
        corpora=tuple(query.getlist("corpus")), agents=tuple(query.getlist("agent")),
        top_labels=emotions, tracks=tuple(query.getlist("role")),
        date_from=datetime.combine(first, time()) if first else None,
        date_to=datetime.combine(last, time()) + timedelta(days=1) if last else None,
        min_confidence=min(cmin, cmax), max_confidence=max(cmin, cmax),
        min_duration_s=number("dmin", query.get("dmin"), 0.0, 0.0, 1e9),
        max_duration_s=None if dmax is None else number("dmax", dmax, 0.0, 0.0, 1e9),
        events=tuple(dict.fromkeys(events)),
    )  # fmt: skip
    order_by = choice("sort", query.get("sort", "source_name"), SORTABLE)
    rows = whole("page_size", query.get("page_size"), PAGE_ROWS, 1, MAX_PAGE_ROWS)
    page = whole("page", query.get("page"), 1, 1, 10**9)
    descending = flag("desc", query.get("desc"))
    return model_key(store, query.get("model")), ClipQuery(
        where, query.get("q", ""), order_by, descending, page - 1, rows
    )


def metadata(manifest: bytes | None, pattern: str | None):
    """The upload's metadata function: from a manifest CSV's bytes, a path pattern, or none."""
    from core.ingest import metadata as meta

    if manifest is not None:
        return meta.from_manifest(manifest, name="manifest")
    if pattern:
        return meta.from_pattern(pattern)
    return meta.no_metadata


def plain(value):
    """One value as JSON has it: dates as ISO text, NaN and NaT as null, numpy as Python."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, pd.Timestamp | datetime | date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
