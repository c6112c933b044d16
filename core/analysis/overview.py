"""The Overview page's numbers: volume, emotion mix per period, and agent x emotion shifts.

Everything is aggregated in DuckDB over the page's selection (CLIP_VIEW + ClipFilter); only the
rows the page shows come back, so it stays fast on a million clips.

Counting: CLIP_VIEW has one row per corpus a clip is in, so the selection is first reduced to one
row per (clip_id, track) and a recording in two corpora counts once. A *recording* is a clip_id
(its audio hours count once); a *track* is one scored channel of it (a split stereo call has two).
Emotion shares, the data-quality shares and the significance test count tracks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from core.errors import InputError
from core.model.labels import EMOTIONS, LOW_CONFIDENCE
from core.records import ClipFilter
from core.store import rollup
from core.store.schema import CLIP_VIEW

NEGATIVE: tuple[str, ...] = ("angry", "disgusted", "fearful", "sad")
UNCLEAR: tuple[str, ...] = ("other", "unknown")
MIN_N = 20  # a shift is tested only when the latest period and the baseline both have this many
ALPHA = 0.01
TEST_NAME = "two-sided two-proportion z-test (pooled variance)"

# Period -> DuckDB date_trunc part (a week starts on Monday, as on Agent trends).
_TRUNC = {"day": "day", "week": "week", "month": "month"}
_STEP = {"day": pd.DateOffset(days=1), "week": pd.DateOffset(weeks=1),
         "month": pd.DateOffset(months=1)}  # fmt: skip


@dataclass(frozen=True)
class Volume:
    """What the selection holds, each recording counted once across corpora."""

    recordings: int
    tracks: int
    hours: float
    agents: int
    first_at: datetime | None
    last_at: datetime | None
    undated_tracks: int
    unclear_share: float  # tracks whose top label is other or unknown
    low_confidence_share: float  # tracks whose top-label confidence is below LOW_CONFIDENCE


@dataclass(frozen=True)
class Overview:
    """Everything the Overview page shows, for one model, selection and period length."""

    period: str
    volume: Volume
    mix: pd.DataFrame  # period_start (NaT: undated), emotion, n tracks
    latest_start: date | None  # the period holding the newest recording
    shifts: pd.DataFrame  # see shift_tests()

    @property
    def latest_end(self) -> date | None:
        """The latest period's last day (inclusive)."""
        if self.latest_start is None:
            return None
        return (pd.Timestamp(self.latest_start) + _STEP[self.period] - pd.DateOffset(days=1)).date()

    @property
    def previous_start(self) -> date | None:
        """The first day of the calendar period before the latest one."""
        if self.latest_start is None:
            return None
        return (pd.Timestamp(self.latest_start) - _STEP[self.period]).date()


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


def overview(store, model_key: str, where: ClipFilter = ClipFilter(),
             period: str = "week") -> Overview:  # fmt: skip
    """The Overview of one model's results over a selection, with periods of `period`."""
    if period not in _TRUNC:
        raise InputError(f"period {period!r}: choose one of {', '.join(_TRUNC)}.")
    with store.reading() as con:  # the temp table lives in this short-lived connection only
        _aggregate(con, model_key, where, _TRUNC[period])
        volume = _volume(con)
        mix = con.execute(
            f"""SELECT * FROM (SELECT period_start, unnest(?::VARCHAR[]) AS emotion,
                   unnest([{", ".join(f"sum(n_{e})::BIGINT" for e in EMOTIONS)}]) AS n
               FROM agg GROUP BY period_start) WHERE n > 0
            ORDER BY period_start NULLS LAST, emotion""",
            [list(EMOTIONS)],
        ).df()
        latest = con.execute("SELECT max(period_start) FROM agg").fetchall()[0][0]
        counts = _shift_counts(con, latest) if latest is not None else _no_counts()
    mix["period_start"] = pd.to_datetime(mix.period_start)
    return Overview(period, volume, mix, latest, shift_tests(counts))


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
    condition, params = where.where()
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


def _volume(con) -> Volume:
    unclear = " + ".join(f"sum(n_{e})" for e in UNCLEAR)
    row = con.execute(
        f"""SELECT coalesce(sum(recordings), 0), coalesce(sum(tracks), 0),
               coalesce(sum(seconds_audio), 0) / 3600.0, count(DISTINCT agent), min(first_at),
               max(last_at), coalesce(sum(tracks) FILTER (WHERE period_start IS NULL), 0),
               coalesce(({unclear}) / sum(tracks), 0), coalesce(sum(n_low) / sum(tracks), 0)
        FROM agg"""
    ).fetchall()[0]
    return Volume(int(row[0]), int(row[1]), float(row[2]), int(row[3]), row[4], row[5],
                  int(row[6]), float(row[7]), float(row[8]))  # fmt: skip


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


def _no_counts() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c[0] in "nk" else "object")
                         for c in ("agent", "emotion", "n_latest", "k_latest", "n_base", "k_base")})  # fmt: skip


def two_proportion_z(k1: np.ndarray, n1: np.ndarray, k0: np.ndarray,
                     n0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """z and two-sided p of H0 'same proportion', pooled variance; p = 1 where both are 0 or 1."""
    k1, n1, k0, n0 = (np.asarray(a, dtype=float) for a in (k1, n1, k0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = np.where(se > 0, (k1 / n1 - k0 / n0) / se, 0.0)
    p = np.array([math.erfc(abs(v) / math.sqrt(2)) for v in np.ravel(z)]).reshape(z.shape)
    return z, p


def shift_tests(counts: pd.DataFrame, min_n: int = MIN_N, alpha: float = ALPHA) -> pd.DataFrame:
    """Each agent x emotion: shares latest vs baseline, change (points), z, p, tested, flagged.

    Tested only when both sides have at least `min_n` tracks; flagged when tested and p < alpha.
    Flagged shifts come first, largest absolute change first.
    """
    table = counts.copy()
    z, p = two_proportion_z(table.k_latest, table.n_latest, table.k_base, table.n_base)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["share_latest"] = table.k_latest / table.n_latest
        table["share_base"] = np.where(table.n_base > 0, table.k_base / table.n_base, np.nan)
    table["change"] = table.share_latest - table.share_base
    table["tested"] = (table.n_latest >= min_n) & (table.n_base >= min_n)
    table["z"] = np.where(table.tested, z, np.nan)
    table["p"] = np.where(table.tested, p, np.nan)
    table["flagged"] = table.tested & (table.p < alpha)
    table["_size"] = table.change.abs()
    table = table.sort_values(["flagged", "_size", "p", "agent", "emotion"],
                              ascending=[False, False, True, True, True])  # fmt: skip
    return table.drop(columns="_size").reset_index(drop=True)


def negative_shares(mix: pd.DataFrame) -> pd.DataFrame:
    """Per dated period: tracks, negative tracks (angry+disgusted+fearful+sad) and their share."""
    dated = mix.dropna(subset=["period_start"])
    grouped = dated.assign(neg=dated.n.where(dated.emotion.isin(NEGATIVE), 0)).groupby(
        "period_start"
    )
    table = pd.DataFrame({"n": grouped.n.sum(), "negative": grouped.neg.sum()}).reset_index()
    table["share"] = table.negative / table.n
    return table


def negative_change(result: Overview) -> tuple[float | None, float | None]:
    """The negative share of the latest period and of the period before (None when empty)."""
    shares = negative_shares(result.mix).set_index("period_start").share

    def share(day: date | None) -> float | None:
        value = None if day is None else shares.get(pd.Timestamp(day))
        return None if value is None else float(value)

    return share(result.latest_start), share(result.previous_start)


def drill_down(result: Overview, agent: str, emotion: str, model_key: str) -> dict[str, dict]:
    """Query parameters of the Clips and Agent trends pages for one shift."""
    return {
        "clips": {"agent": agent, "from": result.latest_start.isoformat(),
                  "to": result.latest_end.isoformat(), "model": model_key},
        "trends": {"agent": agent, "period": result.period, "focus": emotion, "model": model_key,
                   "da": agent, "dp": result.latest_start.isoformat()},
    }  # fmt: skip
